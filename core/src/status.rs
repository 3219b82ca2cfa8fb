//! fail2ban's server status, as BanGUI's health probe reports it.

use alloc::string::String;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind};
use crate::json::{self, Fields, Path};

/// The result of one health probe (BanGUI's `ServerStatus` model).
///
/// `online` is required; `version` defaults to `None` and `active_jails` to 0,
/// as in the model. Any other key the host sends (`total_bans`, ...) is kept
/// in [`ServerStatus::extra`] and written back untouched.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ServerStatus {
    /// Whether fail2ban answered the probe.
    pub online: bool,
    /// fail2ban's version, when it reported one.
    pub version: Option<String>,
    /// How many jails fail2ban reported active.
    pub active_jails: u64,
    extra: Map<String, Value>,
}

const KNOWN_KEYS: [&str; 3] = ["online", "version", "active_jails"];

impl ServerStatus {
    /// A status with no extra keys.
    pub fn new(online: bool, version: Option<String>, active_jails: u64) -> Self {
        ServerStatus {
            online,
            version,
            active_jails,
            extra: Map::new(),
        }
    }

    /// The keys beyond `online`, `version` and `active_jails`.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// Overwrites this status with the fast path's fields, reusing the version
    /// string's allocation when the version is unchanged (the steady state).
    pub(crate) fn assign(&mut self, online: bool, version: Option<&str>, active_jails: u64) {
        self.online = online;
        match (version, &mut self.version) {
            (Some(new), Some(old)) if old == new => {}
            (Some(new), Some(old)) => {
                old.clear();
                old.push_str(new);
            }
            (Some(new), slot @ None) => *slot = Some(String::from(new)),
            (None, slot) => *slot = None,
        }
        self.active_jails = active_jails;
        // `clear` on an empty BTreeMap still walks a dying iterator (~45 instructions).
        if !self.extra.is_empty() {
            self.extra.clear();
        }
    }

    pub(crate) fn read(value: &Value, path: &Path<'_>, kind: ErrorKind) -> Result<Self, Error> {
        let fields = Fields::of(value, path, kind)?;
        let online = fields.bool("online")?;
        let version = fields.optional_string("version")?;
        let active_jails = match fields.map.get("active_jails") {
            None => 0,
            Some(value) => value
                .as_u64()
                .ok_or_else(|| fields.mistyped("active_jails", "a non-negative integer", value))?,
        };
        // Inserted one by one: `collect` into a map sorts first, which pulls
        // a stable sort (~3 KB) into the WebAssembly module.
        let mut extra = Map::new();
        for (key, value) in fields.map {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                json::check_pass_through(value, &path.key(key), kind)?;
                extra.insert(key.clone(), value.clone());
            }
        }
        Ok(ServerStatus {
            online,
            version,
            active_jails,
            extra,
        })
    }
}

impl Serialize for ServerStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3 + self.extra.len()))?;
        map.serialize_entry("online", &self.online)?;
        map.serialize_entry("version", &self.version)?;
        map.serialize_entry("active_jails", &self.active_jails)?;
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}
