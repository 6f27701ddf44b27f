//! Tags on the command line, in the config file and in queries: `k=v` pairs and their checks.
//!
//! A filter is a list of `k=v` pairs that must all hold (AND) with exact values: `role=web`
//! matches the members whose tag `role` is exactly `web`.

use hearsay_core::Tags;
use serde::Deserialize;

/// Parses one `k=v` pair (the key is everything before the first `=`).
pub(crate) fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{}` is not of the form key=value", text.escape_debug())),
    }
}

/// The config file's `tags = { role = "web" }`, as the pairs the flags give.
pub(crate) fn deserialize_map<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<(String, String)>>, D::Error> {
    let map = Option::<std::collections::BTreeMap<String, String>>::deserialize(deserializer)?;
    Ok(map.map(|m| m.into_iter().collect()))
}

/// Pairs as a set of tags; a key given twice keeps its last value.
pub(crate) fn to_tags(pairs: &[(String, String)]) -> Tags {
    pairs.iter().cloned().collect()
}

/// Every `name=value` of a raw URL query string, decoded, in order (names may repeat).
pub(crate) fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(&text.replace('+', " "))
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| "the query string is not valid UTF-8".to_string())
    };
    let mut out = Vec::new();
    for part in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        out.push((decode(name)?, decode(value)?));
    }
    Ok(out)
}

/// Every `tag=k=v` of a raw URL query string, decoded; other parameters are ignored.
pub(crate) fn filter_from_query(query: Option<&str>) -> Result<Vec<(String, String)>, String> {
    query_pairs(query)?.into_iter().filter(|(name, _)| name == "tag").map(|(_, value)| parse_pair(&value)).collect()
}

/// Tags as `k=v,k=v` for tables.
pub(crate) fn format_tags(tags: &std::collections::BTreeMap<String, String>) -> String {
    tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_query_filters_parse() {
        assert_eq!(parse_pair("role=web"), Ok(("role".into(), "web".into())));
        assert_eq!(parse_pair("k=a=b"), Ok(("k".into(), "a=b".into())));
        assert_eq!(parse_pair("k="), Ok(("k".into(), String::new())));
        assert!(parse_pair("=v").is_err() && parse_pair("novalue").is_err());
        let filter = filter_from_query(Some("tag=role%3Dweb&other=1&tag=zone=b+c")).unwrap();
        assert_eq!(filter, vec![("role".into(), "web".into()), ("zone".into(), "b c".into())]);
        assert!(filter_from_query(Some("tag=bad")).is_err());
        assert_eq!(filter_from_query(None), Ok(vec![]));
    }
}
