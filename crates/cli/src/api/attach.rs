//! `/containers/{id}/attach` and `/containers/{id}/resize`.

use super::{Answer, ApiError, Call};

pub async fn attach(_call: &Call, id: &str) -> Answer {
    Err(ApiError::not_found(format!(
        "page not found: POST /containers/{id}/attach"
    )))
}

pub async fn resize(_call: &Call, id: &str) -> Answer {
    Err(ApiError::not_found(format!(
        "page not found: POST /containers/{id}/resize"
    )))
}
