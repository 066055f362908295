//! Our index template is shared: others add to it, and `setup` keeps what they added.
//!
//! OpenSearch Security Analytics, when a detector is created on an index pattern our template
//! matches, appends its component `.opensearch-sap-alias-mappings-component-<pattern>` to
//! `composed_of` and the pattern to `index_patterns` (its `IndexTemplateManager`); a user may add
//! a component of their own, an alias, a setting. Were `setup` to PUT only what it renders, the
//! next day's index would lose all that, silently.
//!
//! What `setup` owns in the index template `PREFIX`, and nothing else:
//! - in `composed_of`: the names of our components, `PREFIX@settings`, `@mappings`, `@ecs`,
//!   `@lifecycle` (whether or not this run composes them: a component we stop composing goes);
//! - in `index_patterns`: `PREFIX-*`;
//! - every other key path the template we render sets (`priority`, `_meta.managed_by`,
//!   `_meta.version`, and whatever else `templates::index_template` writes), compared leaf by leaf;
//!   an array is a leaf.
//!
//! So the body written is what is installed, with our leaves put back where they differ, our
//! components first (in our order) then the others' (in theirs, which therefore override ours, as
//! Security Analytics intends), our patterns first then theirs. Keys others set that we do not
//! (`template.aliases.X`, `template.settings.index.X`, `_meta.owner`, `version`…) stay as they are.
//! The component templates `PREFIX@…` themselves are ours alone and are rewritten whole: a change
//! of one's own belongs in one's own component, added to `composed_of`.

use serde_json::{Map, Value};

/// Fields the server writes into a template and refuses in a PUT (Elasticsearch 9).
const SERVER_WRITTEN: [&str; 4] =
    ["created_date_millis", "modified_date_millis", "created_date", "modified_date"];

/// What the merged template keeps that others added, by name only (component names, patterns and
/// key paths; never a value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kept {
    /// Components of others in `composed_of`.
    pub components: Vec<String>,
    /// Index patterns of others.
    pub patterns: Vec<String>,
    /// Other key paths of others (`template.aliases.x`, `_meta.owner`).
    pub other: Vec<String>,
}

impl Kept {
    /// Nothing of others' in the template.
    pub fn is_empty(&self) -> bool {
        self.components.is_empty() && self.patterns.is_empty() && self.other.is_empty()
    }
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts = [
            ("components", &self.components),
            ("index patterns", &self.patterns),
            ("other keys", &self.other),
        ];
        let listed: Vec<String> = parts
            .iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(what, names)| format!("{what} [{}]", names.join(", ")))
            .collect();
        write!(f, "kept what others added: {}", listed.join("; "))
    }
}

/// Our rendered index template `ours` merged into the `installed` one (see the module docs);
/// `owned` are the names of all the components we may compose.
pub fn merge_index_template(ours: &Value, installed: &Value, owned: &[String]) -> (Value, Kept) {
    let mut kept = Kept::default();
    let mut merged = installed.as_object().cloned().unwrap_or_default();
    for key in SERVER_WRITTEN {
        merged.remove(key);
    }
    let Some(ours_map) = ours.as_object() else { return (ours.clone(), kept) };
    let theirs_list = |key: &str| -> Vec<String> {
        let list = installed[key].as_array().map(Vec::as_slice).unwrap_or_default();
        list.iter().filter_map(Value::as_str).map(str::to_string).collect()
    };
    for (key, value) in ours_map {
        match key.as_str() {
            "composed_of" | "index_patterns" => {
                let mine: Vec<String> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
                let mut remaining = mine.clone();
                let mut others = Vec::new();
                for name in theirs_list(key) {
                    // One of ours (each taken once: another copy of it is someone's addition).
                    if let Some(i) = remaining.iter().position(|m| *m == name) {
                        remaining.remove(i);
                    } else if !(key == "composed_of" && owned.contains(&name)) {
                        others.push(name);
                    }
                }
                let all: Vec<Value> = mine.iter().chain(&others).cloned().map(Value::String).collect();
                merged.insert(key.clone(), Value::Array(all));
                match key.as_str() {
                    "composed_of" => kept.components = others,
                    _ => kept.patterns = others,
                }
            }
            _ => {
                let slot = merged.entry(key.clone()).or_insert(Value::Null);
                put_leaves(slot, value, key, &mut kept.other);
            }
        }
    }
    // Top-level keys only others set (`version`, `data_stream`…).
    for key in merged.keys() {
        if !ours_map.contains_key(key) {
            kept.other.push(key.clone());
        }
    }
    (Value::Object(merged), kept)
}

/// Writes every leaf of `ours` into `slot`; notes (as `path.key`) the keys of `slot` that `ours`
/// does not set. Settings are compared and written as flat `dotted.key`s, however each side nests
/// them (the server answers `{"index":{"codec":…}}` for `index.codec`).
fn put_leaves(slot: &mut Value, ours: &Value, path: &str, others: &mut Vec<String>) {
    let Value::Object(ours) = ours else {
        *slot = ours.clone();
        return;
    };
    let flat = path == "template.settings";
    let mut theirs = match std::mem::take(slot) {
        Value::Object(map) if flat => flatten(&map),
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let ours = if flat { flatten(ours) } else { ours.clone() };
    for key in theirs.keys() {
        if !ours.contains_key(key) {
            others.push(format!("{path}.{key}"));
        }
    }
    for (key, value) in &ours {
        let inner = theirs.entry(key.clone()).or_insert(Value::Null);
        put_leaves(inner, value, &format!("{path}.{key}"), others);
    }
    *slot = Value::Object(theirs);
}

/// `{"index":{"codec":"x"}}` → `{"index.codec":"x"}`; arrays and scalars are leaves.
fn flatten(map: &Map<String, Value>) -> Map<String, Value> {
    fn walk(prefix: &str, value: &Value, out: &mut Map<String, Value>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    walk(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v, out);
                }
            }
            leaf => {
                out.insert(prefix.to_string(), leaf.clone());
            }
        }
    }
    let mut out = Map::new();
    walk("", &Value::Object(map.clone()), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn owned() -> Vec<String> {
        ["ct@settings", "ct@mappings", "ct@ecs", "ct@lifecycle"].map(String::from).to_vec()
    }

    fn ours() -> Value {
        json!({"index_patterns": ["ct-*"], "composed_of": ["ct@settings", "ct@mappings"], "priority": 202,
               "_meta": {"managed_by": "cloudtrail-es", "version": "0.2.0"}})
    }

    #[test]
    fn a_security_analytics_edit_is_kept_and_nothing_else_changes() {
        // As IndexTemplateManager re-PUTs it: its component and pattern appended, the rest as is.
        let sa = ".opensearch-sap-alias-mappings-component-ct-";
        let installed = json!({"index_patterns": ["ct-*", "ct-*"], "composed_of": ["ct@settings", "ct@mappings", sa],
            "priority": 202, "_meta": {"managed_by": "cloudtrail-es", "version": "0.2.0"}});
        let (merged, kept) = merge_index_template(&ours(), &installed, &owned());
        assert_eq!(merged, installed, "nothing of ours differs: the same body");
        assert_eq!(kept.components, [sa]);
        assert_eq!(kept.patterns, ["ct-*"], "its copy of our pattern is its own");
        assert!(kept.other.is_empty());
        assert_eq!(
            kept.to_string(),
            format!("kept what others added: components [{sa}]; index patterns [ct-*]")
        );
    }

    #[test]
    fn what_we_own_is_put_back_and_theirs_stays() {
        let installed = json!({"index_patterns": ["other-*", "ct-*"],
            "composed_of": ["mine", "ct@lifecycle", "ct@mappings"], "priority": 1, "version": 3,
            "template": {"aliases": {"all-ct": {}}, "settings": {"index": {"number_of_replicas": "0"}}},
            "_meta": {"managed_by": "someone", "owner": "team-a"}, "created_date_millis": 1, "modified_date_millis": 2});
        let (merged, kept) = merge_index_template(&ours(), &installed, &owned());
        assert_eq!(
            merged,
            json!({"index_patterns": ["ct-*", "other-*"], "composed_of": ["ct@settings", "ct@mappings", "mine"],
                "priority": 202, "version": 3,
                "template": {"aliases": {"all-ct": {}}, "settings": {"index": {"number_of_replicas": "0"}}},
                "_meta": {"managed_by": "cloudtrail-es", "version": "0.2.0", "owner": "team-a"}})
        );
        assert_eq!(kept.components, ["mine"], "ct@lifecycle is ours: no longer composed, it goes");
        assert_eq!(kept.patterns, ["other-*"]);
        assert_eq!(kept.other, ["_meta.owner", "version", "template"]);
    }

    #[test]
    fn inline_settings_and_aliases_we_set_are_merged_key_by_key() {
        let mut ours = ours();
        ours["template"] =
            json!({"settings": {"index.codec": "best_compression"}, "aliases": {"ct-view": {}}});
        let installed = json!({"index_patterns": ["ct-*"], "composed_of": ["ct@settings", "ct@mappings"],
            "template": {"settings": {"index": {"codec": "default", "refresh_interval": "5s"}},
                         "aliases": {"theirs": {"is_hidden": true}}}});
        let (merged, kept) = merge_index_template(&ours, &installed, &owned());
        assert_eq!(
            merged["template"],
            json!({"settings": {"index.codec": "best_compression", "index.refresh_interval": "5s"},
                   "aliases": {"theirs": {"is_hidden": true}, "ct-view": {}}})
        );
        assert_eq!(kept.other, ["template.settings.index.refresh_interval", "template.aliases.theirs"]);
    }

    #[test]
    fn nothing_installed_is_ours_as_rendered() {
        let (merged, kept) = merge_index_template(&ours(), &json!({}), &owned());
        assert_eq!(merged, ours());
        assert!(kept.is_empty());
    }
}
