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
        "Labels": n.labels,
    })
}

/// docker's `host` and `none`, which every engine has.
fn mode_json(name: &str, id: String) -> Value {
    json!({
        "Name": name,
        "Id": id,
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
    let (networks, ids) = call
        .blocking(|engine| {
            let ids: Vec<String> = ["bridge", "host", "none"]
                .iter()
                .map(|n| engine.predefined_network_id(n))
                .collect();
            Ok((engine.list_networks()?, ids))
        })
        .await?;
    let mut rows: Vec<Value> = networks.iter().map(network_json).collect();
    if !networks.iter().any(|n| n.name == "bridge") {
        // The default bridge is made on first use; docker always lists it.
        rows.push(json!({ "Name": "bridge", "Id": ids[0], "Driver": "bridge", "Scope": "local", "Labels": {} }));
    }
    rows.push(mode_json("host", ids[1].clone()));
    rows.push(mode_json("none", ids[2].clone()));
    Ok(json_response(StatusCode::OK, &Value::Array(rows)))
}

pub async fn inspect(call: &Call, name: &str) -> Answer {
    if matches!(name, "host" | "none") {
        let id = call.engine.predefined_network_id(name);
        return Ok(json_response(StatusCode::OK, &mode_json(name, id)));
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
    let labels: std::collections::BTreeMap<String, String> = body["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let network = call
        .blocking(move |engine| {
            if engine.network(&name)?.is_some() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("network with name {name} already exists"),
                ));
            }
            engine
                .create_network_labelled(&name, subnet.as_deref(), gateway.as_deref(), labels)
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
