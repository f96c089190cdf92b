//! `/networks/...`: tinydocker's bridge networks, and docker's `host`
//! and `none` (which are not records of the engine's, but modes).

use hyper::StatusCode;
use serde_json::{json, Value};
use tinydocker_engine::{BridgeRequest, Network};

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
            let name = resolve(engine, &key)?;
            engine
                .network(&name)?
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
        let name = resolve(engine, &key)?;
        // In use: 409; anything else as it is.
        engine.remove_network(&name).map_err(ApiError::from)
    })
    .await?;
    Ok(super::empty(StatusCode::NO_CONTENT))
}

/// The network called `key` (its name, or its id or a prefix of it, as
/// docker takes either in a path), or 404.
fn resolve(engine: &tinydocker_engine::Engine, key: &str) -> Result<String, ApiError> {
    if key == tinydocker_engine::DEFAULT_NETWORK || engine.network(key)?.is_some() {
        return Ok(key.to_string());
    }
    let by_id: Vec<Network> = engine
        .list_networks()?
        .into_iter()
        .filter(|n| !key.is_empty() && n.id.starts_with(key))
        .collect();
    match by_id.as_slice() {
        [one] => Ok(one.name.clone()),
        _ => Err(ApiError::not_found(format!("network {key} not found"))),
    }
}

/// An engine error of connect or disconnect with docker's status: an
/// endpoint already there is 403, a missing container 404.
fn endpoint_error(e: tinydocker_engine::Error) -> ApiError {
    let message = e.one_line();
    if message.starts_with("endpoint with name") {
        ApiError::new(StatusCode::FORBIDDEN, message)
    } else {
        e.into()
    }
}

/// The body's `Container`, which connect and disconnect need.
fn container_of(body: &serde_json::Value) -> Result<String, ApiError> {
    body["Container"]
        .as_str()
        .filter(|c| !c.is_empty())
        .map(String::from)
        .ok_or_else(|| ApiError::bad_request("no container given"))
}

/// `POST /networks/{id}/connect`: `{"Container", "EndpointConfig":
/// {"Aliases": [..], "IPAMConfig": {"IPv4Address"}}}`.
pub async fn connect(call: &Call, key: &str) -> Answer {
    let body = call.json()?;
    let container = container_of(&body)?;
    let endpoint = &body["EndpointConfig"];
    let aliases: Vec<String> = endpoint["Aliases"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let ip = match endpoint["IPAMConfig"]["IPv4Address"].as_str() {
        None | Some("") => None,
        Some(ip) => Some(
            ip.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid IPv4 address {ip:?}")))?,
        ),
    };
    let key = key.to_string();
    call.blocking(move |engine| {
        let network = resolve(engine, &key)?;
        let request = BridgeRequest {
            network,
            ip,
            ports: Vec::new(),
            aliases,
        };
        engine
            .connect_network(&container, request)
            .map_err(endpoint_error)
    })
    .await?;
    Ok(super::empty(StatusCode::OK))
}

/// `POST /networks/{id}/disconnect`: `{"Container", "Force"}`.
pub async fn disconnect(call: &Call, key: &str) -> Answer {
    let body = call.json()?;
    let container = container_of(&body)?;
    let force = body["Force"].as_bool().unwrap_or(false);
    let key = key.to_string();
    call.blocking(move |engine| {
        let network = resolve(engine, &key)?;
        engine
            .disconnect_network(&container, &network, force)
            .map_err(endpoint_error)
    })
    .await?;
    Ok(super::empty(StatusCode::OK))
}

/// `POST /networks/prune?filters=..`: `{"NetworksDeleted": [names]}`.
pub async fn prune(call: &Call) -> Answer {
    let filters = super::containers::filters(call)?;
    let keep = crate::commands::prune_network_filter(&filters)
        .map_err(|e| ApiError::bad_request(format!("{e:#}")))?;
    let removed = call
        .blocking(move |engine| Ok(engine.prune_networks(keep)?))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "NetworksDeleted": removed }),
    ))
}
