//! `/images/...`.

use hyper::StatusCode;
use serde_json::{json, Value};

use super::{json_response, Answer, ApiError, Call};

/// An image as `GET /images/json` lists it.
fn summary(image: &tinydocker_fs::Image) -> Value {
    let tags: Vec<&String> = image.names.iter().filter(|n| !n.contains('@')).collect();
    let digests: Vec<&String> = image.names.iter().filter(|n| n.contains('@')).collect();
    json!({
        "Id": image.id,
        "ParentId": "",
        "RepoTags": tags,
        "RepoDigests": digests,
        "Created": image.created,
        "Size": image.size,
        "VirtualSize": image.size,
        "SharedSize": -1,
        "Labels": image.config.labels,
        "Containers": -1,
    })
}

pub async fn list(call: &Call) -> Answer {
    let dangling_only = super::containers::filters(call)?
        .iter()
        .any(|(k, v)| k == "dangling" && v == "true");
    let images = call.blocking(|engine| Ok(engine.images()?.list()?)).await?;
    let rows: Vec<Value> = images
        .iter()
        .filter(|i| !dangling_only || !i.names.iter().any(|n| !n.contains('@')))
        .map(summary)
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(rows)))
}

pub async fn inspect(call: &Call, name: &str) -> Answer {
    let name = name.to_string();
    let value = call
        .blocking(move |engine| {
            let store = engine.images()?;
            let image = store
                .resolve(&name)
                .map_err(|_| ApiError::not_found(format!("No such image: {name}")))?;
            let names = store
                .list()?
                .into_iter()
                .find(|i| i.id == image.id)
                .map(|i| i.names)
                .unwrap_or_default();
            Ok(crate::commands::image_json(&tinydocker_fs::Image {
                names,
                ..image
            }))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &value))
}

/// `POST /images/{name}/tag?repo=R&tag=T`.
pub async fn tag(call: &Call, name: &str) -> Answer {
    let repo = call.query.get("repo").unwrap_or_default().to_string();
    let tag = call
        .query
        .get("tag")
        .filter(|t| !t.is_empty())
        .unwrap_or("latest");
    let target: tinydocker_fs::Reference = format!("{repo}:{tag}")
        .parse()
        .map_err(|e: tinydocker_fs::ReferenceError| ApiError::bad_request(e.to_string()))?;
    let name = name.to_string();
    call.blocking(move |engine| {
        engine
            .images()?
            .tag(&name, &target)
            .map_err(|_| ApiError::not_found(format!("No such image: {name}")))
    })
    .await?;
    Ok(hyper::Response::builder()
        .status(StatusCode::CREATED)
        .body(super::full(""))
        .expect("a response of valid parts"))
}

/// `DELETE /images/{name}?force=1`: what was untagged and deleted.
pub async fn remove(call: &Call, name: &str) -> Answer {
    let force = call.query.flag("force");
    let name = name.to_string();
    let removed = call
        .blocking(move |engine| {
            engine.images()?.resolve(&name)?;
            Ok(engine.remove_image(&name, force)?)
        })
        .await?;
    let mut out: Vec<Value> = removed
        .untagged
        .iter()
        .map(|n| json!({ "Untagged": n }))
        .collect();
    if removed.deleted {
        out.push(json!({ "Deleted": removed.image.id }));
    }
    Ok(json_response(StatusCode::OK, &Value::Array(out)))
}
