//! Names on the wire that more than one place spells: the response headers the component
//! sets, and the Open Inference Protocol's model name, datatypes and binary-data header.

/// Header carried by every response, so a caller always knows which model answered.
pub const MODEL_VERSION_HEADER: &str = "x-model-version";

/// Header naming the request in the log: the caller's `x-request-id` when it is a plain
/// token, generated otherwise; echoed on the response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Response header with the number of patients a `/predict` or `infer` call assessed.
pub const BATCH_SIZE_HEADER: &str = "x-batch-size";

/// The name of the model in the Open Inference Protocol paths.
pub const OIP_MODEL_NAME: &str = "heart-disease";

/// The tensor datatypes an inference request may declare (all carried as JSON numbers).
pub const OIP_DATATYPES: [&str; 10] = [
    "FP64", "FP32", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8",
];

/// The header of the Open Inference Protocol's binary tensor data extension: the length of
/// the JSON at the start of a body that goes on with raw tensor bytes.
pub const OIP_HEADER_LENGTH: &str = "Inference-Header-Content-Length";
