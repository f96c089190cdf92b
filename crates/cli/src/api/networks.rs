//! `/networks/...`: tinydocker's bridge networks, and docker's `host`
//! and `none` (which are not records of the engine's, but modes).

use hyper::StatusCode;
use serde_json::{json, Value};
use tinydocker_engine::Network;

use super::{json_response, Answer, ApiError, Call};

fn network_json(n: &Network) -> Value {
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": crate::human::rfc3339(n.created),
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": null,
            "Config": [{ "Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string() }],
        },
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": { "Network": "" },
        "ConfigOnly": false,
        "Containers": {},
        "Options": { "com.docker.network.bridge.name": n.bridge },
        "Labels": {},
    })
}

/// docker's `host` and `none`, which every engine has.
fn mode_json(name: &str) -> Value {
    json!({
        "Name": name,
        "Id": name,
        "Created": "0001-01-01T00:00:00Z",
        "Scope": "local",
        "Driver": if name == "host" { "host" } else { "null" },
        "EnableIPv6": false,
        "IPAM": { "Driver": "default", "Options": null, "Config": [] },
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": { "Network": "" },
        "ConfigOnly": false,
        "Containers": {},
        "Options": {},
        "Labels": {},
    })
}

pub async fn list(call: &Call) -> Answer {
    let networks = call.blocking(|engine| Ok(engine.list_networks()?)).await?;
    let mut rows: Vec<Value> = networks.iter().map(network_json).collect();
    if !networks.iter().any(|n| n.name == "bridge") {
        // The default bridge is made on first use; docker always lists it.
        rows.push(json!({ "Name": "bridge", "Id": "bridge", "Driver": "bridge", "Scope": "local", "Labels": {} }));
    }
    rows.push(mode_json("host"));
    rows.push(mode_json("none"));
    Ok(json_response(StatusCode::OK, &Value::Array(rows)))
}

pub async fn inspect(call: &Call, name: &str) -> Answer {
    if matches!(name, "host" | "none") {
        return Ok(json_response(StatusCode::OK, &mode_json(name)));
    }
    let key = name.to_string();
    let network = call
        .blocking(move |engine| {
            engine
                .network(&key)?
                .ok_or_else(|| ApiError::not_found(format!("network {key} not found")))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &network_json(&network)))
}

/// `POST /networks/create`: `{"Name", "Driver", "IPAM": {"Config":
/// [{"Subnet", "Gateway"}]}}`.
pub async fn create(call: &Call) -> Answer {
    let body = call.json()?;
    let name = body["Name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("network name is required"))?
        .to_string();
    match body["Driver"].as_str() {
        None | Some("" | "bridge") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "plugin \"{other}\" not found: tinydocker makes bridge networks"
            )))
        }
    }
    let config = &body["IPAM"]["Config"][0];
    let subnet = config["Subnet"].as_str().map(String::from);
    let gateway = config["Gateway"].as_str().map(String::from);
    let network = call
        .blocking(move |engine| {
            if engine.network(&name)?.is_some() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("network with name {name} already exists"),
                ));
            }
            engine
                .create_network(&name, subnet.as_deref(), gateway.as_deref())
                .map_err(|e| ApiError::bad_request(e.one_line()))
        })
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "Id": network.id, "Warning": "" }),
    ))
}

pub async fn remove(call: &Call, name: &str) -> Answer {
    if matches!(name, "host" | "none" | "bridge") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{name} is a pre-defined network and cannot be removed"),
        ));
    }
    let key = name.to_string();
    call.blocking(move |engine| {
        if engine.network(&key)?.is_none() {
            return Err(ApiError::not_found(format!("network {key} not found")));
        }
        engine
            .remove_network(&key)
            .map_err(|e| ApiError::new(StatusCode::CONFLICT, e.one_line()))
    })
    .await?;
    Ok(hyper::Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(super::full(""))
        .expect("a response of valid parts"))
}
