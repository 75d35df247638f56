{{/*
Names shared by every template. The SpinApp is named by "heart-disease-api.fullname";
the spin-operator names its Deployment and its ClusterIP Service after the SpinApp,
so the HPA and the PDB refer to the same name, and the chart's own Service takes a
suffix so it never collides with the operator's.
*/}}

{{/*
Expand the name of the chart.
*/}}
{{- define "heart-disease-api.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name, at most 52 characters so that
"<fullname>-http" and the operator's "core.spinkube.dev/app.<fullname>.status"
label key stay within Kubernetes' 63-character limits.
If release name contains chart name it will be used as a full name.
*/}}
{{- define "heart-disease-api.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "heart-disease-api.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels on every object the chart creates.
*/}}
{{- define "heart-disease-api.labels" -}}
helm.sh/chart: {{ include "heart-disease-api.chart" . }}
app.kubernetes.io/name: {{ include "heart-disease-api.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: the label the spin-operator puts on every pod of the SpinApp.
Services, the PDB and the NetworkPolicy select pods with it.
*/}}
{{- define "heart-disease-api.selectorLabels" -}}
core.spinkube.dev/app-name: {{ include "heart-disease-api.fullname" . }}
{{- end }}

{{/*
Name of the chart's own Service (the operator's Service is named like the SpinApp).
*/}}
{{- define "heart-disease-api.serviceName" -}}
{{- printf "%s-http" (include "heart-disease-api.fullname" .) }}
{{- end }}

{{/*
Name of the ServiceAccount the pods run as ("" = the namespace's default).
*/}}
{{- define "heart-disease-api.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "heart-disease-api.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the SpinAppExecutor the SpinApp runs on.
*/}}
{{- define "heart-disease-api.executorName" -}}
{{- if .Values.executor.create }}
{{- include "heart-disease-api.fullname" . }}
{{- else }}
{{- .Values.executor.name }}
{{- end }}
{{- end }}

{{/*
Image reference: repository[:tag][@digest]; the tag defaults to the appVersion.
*/}}
{{- define "heart-disease-api.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
TCP ports of the OTLP collector(s), as a JSON list: otel.port, plus the port of each
per-signal endpoint (its explicit port, else 443 for https and 80 for http), without
duplicates. The NetworkPolicy opens them for egress.
*/}}
{{- define "heart-disease-api.otelPorts" -}}
{{- $ports := list (int .Values.otel.port) }}
{{- range (list .Values.otel.tracesEndpoint .Values.otel.metricsEndpoint .Values.otel.logsEndpoint) }}
{{- if . }}
{{- $url := urlParse . }}
{{- $port := regexFind ":[0-9]+$" $url.host | trimPrefix ":" }}
{{- if not $port }}
{{- $port = ternary "443" "80" (eq $url.scheme "https") }}
{{- end }}
{{- $ports = append $ports (int $port) }}
{{- end }}
{{- end }}
{{- $ports | uniq | toJson }}
{{- end }}

{{/*
Cross-value checks that values.schema.json cannot express. Included by spinapp.yaml,
so any render fails with one of these messages.
*/}}
{{- define "heart-disease-api.validate" -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%d) must not exceed autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- end }}
{{- if and .Values.monitoring.enabled (not .Values.executor.create) }}
{{- fail "monitoring.enabled needs executor.create=true: the chart points the pods' OTLP export at its collector through its own SpinAppExecutor (deploymentConfig.otel)" }}
{{- end }}
{{- if and .Values.monitoring.enabled .Values.otel.enabled (or .Values.otel.tracesEndpoint .Values.otel.metricsEndpoint) }}
{{- fail "monitoring.enabled sends traces and metrics to the release's collector: leave otel.tracesEndpoint and otel.metricsEndpoint empty (otel.endpoint and otel.logsEndpoint still apply)" }}
{{- end }}
{{- if and .Values.otel.enabled (not .Values.executor.create) }}
{{- fail "otel.enabled needs executor.create=true: the OTLP endpoints are SpinAppExecutor configuration (deploymentConfig.otel), so the chart must own the executor" }}
{{- end }}
{{- /* A node port is cluster-wide: a second release (or any Service) holding it made the
install fail halfway on a real cluster, a running SpinApp left behind. Ask the cluster first
(lookup is empty under `helm template` and --dry-run=client). */}}
{{- if eq .Values.service.type "NodePort" }}
{{- $own := include "heart-disease-api.serviceName" . }}
{{- range $svc := (lookup "v1" "Service" "" "").items }}
{{- if not (and (eq $svc.metadata.namespace $.Release.Namespace) (eq $svc.metadata.name $own)) }}
{{- range $svc.spec.ports }}
{{- if eq (int (default 0 .nodePort)) (int $.Values.service.nodePort) }}
{{- fail (printf "service.nodePort %d is already taken by Service %s/%s: set service.nodePort to a free port (30000-32767) or service.type=ClusterIP; nothing was installed" (int $.Values.service.nodePort) $svc.metadata.namespace $svc.metadata.name) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- /* Pod Security: the spin-operator's pods carry no securityContext (SpinApp v0.6.1 has no
field for one), so they meet `baseline` and never `restricted`. In a namespace that enforces
restricted, admission refused every pod while Helm reported "deployed" (a real cluster's
finding): refuse the install instead. */}}
{{- with (lookup "v1" "Namespace" "" .Release.Namespace) }}
{{- if eq (get (.metadata.labels | default dict) "pod-security.kubernetes.io/enforce") "restricted" }}
{{- fail (printf "namespace %s enforces Pod Security \"restricted\", which refuses every pod the spin-operator creates (SpinApp has no securityContext): install into a namespace at \"baseline\" (label pod-security.kubernetes.io/enforce=baseline); nothing was installed" $.Release.Namespace) }}
{{- end }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (not (kindIs "string" .Values.podDisruptionBudget.minAvailable)) }}
{{- $min := ternary .Values.autoscaling.minReplicas .Values.replicaCount .Values.autoscaling.enabled | int }}
{{- if ge (int .Values.podDisruptionBudget.minAvailable) $min }}
{{- fail (printf "podDisruptionBudget.minAvailable (%d) must be lower than the smallest replica count (%d), or no pod could ever be evicted" (int .Values.podDisruptionBudget.minAvailable) $min) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Monitoring: the in-release OpenTelemetry Collector. Its name, its selector labels (kept
apart from the app's pods, which the operator labels core.spinkube.dev/app-name), its
labels, and the OTLP/HTTP base URL of its Service that the executor hands the pods.
*/}}
{{- define "heart-disease-api.collectorName" -}}
{{- printf "%s-otel-collector" (include "heart-disease-api.fullname" .) }}
{{- end }}

{{- define "heart-disease-api.collectorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "heart-disease-api.name" . }}-otel-collector
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: otel-collector
{{- end }}

{{- define "heart-disease-api.collectorLabels" -}}
helm.sh/chart: {{ include "heart-disease-api.chart" . }}
{{ include "heart-disease-api.collectorSelectorLabels" . }}
app.kubernetes.io/version: {{ .Values.monitoring.collector.image.tag | quote }}
app.kubernetes.io/part-of: {{ include "heart-disease-api.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "heart-disease-api.collectorURL" -}}
{{- printf "http://%s.%s.svc.cluster.local:4318" (include "heart-disease-api.collectorName" .) .Release.Namespace }}
{{- end }}

{{- define "heart-disease-api.collectorImage" -}}
{{- $img := .Values.monitoring.collector.image }}
{{- if $img.digest }}
{{- printf "%s:%s@%s" $img.repository $img.tag $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository $img.tag }}
{{- end }}
{{- end }}

{{/*
PromQL label matchers shared by the alerts and the dashboard: the collector's scrape job
(Prometheus names a ServiceMonitor's job after the Service) and the app's Deployment/HPA.
*/}}
{{- define "heart-disease-api.promCollector" -}}
namespace="{{ .Release.Namespace }}",job="{{ include "heart-disease-api.collectorName" . }}"
{{- end }}
{{- define "heart-disease-api.promDeployment" -}}
namespace="{{ .Release.Namespace }}",deployment="{{ include "heart-disease-api.fullname" . }}"
{{- end }}
{{- define "heart-disease-api.promHpa" -}}
namespace="{{ .Release.Namespace }}",horizontalpodautoscaler="{{ include "heart-disease-api.fullname" . }}"
{{- end }}


{{/*
"true" when the drain hook Job runs: drain.enabled, and the cluster has the handler (`sleep`
exists from Kubernetes 1.30 on; an older API server refuses the patch).
*/}}
{{- define "heart-disease-api.drains" -}}
{{- and .Values.drain.enabled (or (not (empty .Values.drain.preStop)) (semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version)) }}
{{- end }}

{{/*
The preStop handler the drain Job patches on: drain.preStop, else a sleep of drain.seconds.
*/}}
{{- define "heart-disease-api.preStop" -}}
{{- .Values.drain.preStop | default (dict "sleep" (dict "seconds" .Values.drain.seconds)) | toJson }}
{{- end }}
