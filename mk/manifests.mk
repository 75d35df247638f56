# Plain manifests generated from the Helm chart (k8s/render.py, through helm-python-sdk in
# the project's venv): k8s/heart-disease-api.yaml is the chart's default render without
# Helm's labels and namespace. Included by the top-level Makefile; `make test-kube`
# (tests/chart/test_manifests.py) fails when the committed file is stale.

.PHONY: manifests manifests-check

manifests: venv ## regenerate k8s/heart-disease-api.yaml from helm/heart-disease-api (after a chart change)
	$(PY) k8s/render.py

manifests-check: venv ## fail (with a diff) if k8s/heart-disease-api.yaml differs from the chart's render
	$(PY) k8s/render.py --check
