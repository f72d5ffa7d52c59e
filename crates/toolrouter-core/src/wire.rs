//! The compact JSON form of many routes, for a reader that rebuilds [`Route`] objects itself
//! (the Node layer's `routeBatch`). A route is an array, its tools and argument names indices
//! into tables written once per batch:
//!
//! ```text
//! {"tools":[…],"names":[…],"routes":[[tool, confidence, [alt, confidence, …], args,
//!   [name, start, end, …], flags, missing, invalid], …]}
//! ```
//!
//! `tool` and `alt` index `tools` (`tool` is `null` when the router abstained), `name` indexes
//! `names`; either is the name itself, as a string, when it is not in its table (one route on
//! its own is written with no tables, [`Tables::none`], and without the object around it). `flags` is
//! `abstained | complete << 1 | reason << 2`, reason 0 `confident`, 1 `low_confidence`,
//! 2 `out_of_scope`. Why: a batch of routes as objects is three times the text, and reading
//! it (one `JSON.parse` on the JS thread, after the routing threads are done) was a tenth of a
//! batch's time; numbers are written as `serde_json` writes them, so every value is the same.

use crate::error::{Error, Result};
use crate::router::{Reason, Route, Router};
use std::collections::HashMap;
use std::io::Write;

/// The batch's tables: the router's tools and argument names, with their indices.
pub struct Tables<'a> {
    tools: Vec<&'a str>,
    names: Vec<&'a str>,
    tool_index: HashMap<&'a str, usize>,
    name_index: HashMap<&'a str, usize>,
}

fn index<'a>(list: &[&'a str]) -> HashMap<&'a str, usize> {
    list.iter().enumerate().map(|(i, &s)| (s, i)).collect()
}

impl<'a> Tables<'a> {
    /// The tables of `router` as it is now (the routes must come from it).
    pub fn new(router: &'a Router) -> Tables<'a> {
        let tools: Vec<&str> = router.tools().iter().map(|t| t.name.as_str()).collect();
        let names: Vec<&str> = router
            .config()
            .arg_names
            .iter()
            .map(String::as_str)
            .collect();
        Tables {
            tool_index: index(&tools),
            name_index: index(&names),
            tools,
            names,
        }
    }

    /// No tables: every tool and argument name is written as a string. For one route on its
    /// own (`route()`), where a table would cost more than it saves.
    pub fn none() -> Tables<'static> {
        Tables {
            tools: Vec::new(),
            names: Vec::new(),
            tool_index: HashMap::new(),
            name_index: HashMap::new(),
        }
    }

    /// Appends `r` in the compact form to `out`.
    pub fn write_route(&self, r: &Route, out: &mut Vec<u8>) -> Result<()> {
        self.write(r, out)
            .map_err(|e| Error::Internal(format!("writing a route: {e}")))
    }

    fn write(&self, r: &Route, out: &mut Vec<u8>) -> std::result::Result<(), serde_json::Error> {
        out.push(b'[');
        match &r.tool {
            Some(t) => ref_or_name(&self.tool_index, t, out)?,
            None => out.extend_from_slice(b"null"),
        }
        out.push(b',');
        serde_json::to_writer(&mut *out, &r.confidence)?;
        out.extend_from_slice(b",[");
        joined(out, &r.alternatives, |a, out| {
            ref_or_name(&self.tool_index, &a.tool, out)?;
            out.push(b',');
            serde_json::to_writer(&mut *out, &a.confidence)
        })?;
        out.extend_from_slice(b"],");
        serde_json::to_writer(&mut *out, &r.args)?;
        out.extend_from_slice(b",[");
        joined(out, &r.spans, |s, out| {
            ref_or_name(&self.name_index, &s.name, out)?;
            write!(out, ",{},{}", s.start, s.end).map_err(serde_json::Error::io)
        })?;
        let reason = match r.reason {
            Reason::Confident => 0,
            Reason::LowConfidence => 1,
            Reason::OutOfScope => 2,
        };
        let flags = u8::from(r.abstained) | u8::from(r.complete) << 1 | reason << 2;
        write!(out, "],{flags},").map_err(serde_json::Error::io)?;
        serde_json::to_writer(&mut *out, &r.missing)?;
        out.push(b',');
        serde_json::to_writer(&mut *out, &r.invalid)?;
        out.push(b']');
        Ok(())
    }

    /// The whole batch: the tables, then `routes` (each written by [`Tables::write_route`]).
    pub fn batch(&self, routes: &[Vec<u8>]) -> Result<String> {
        let body: usize = routes.iter().map(|r| r.len() + 1).sum();
        let mut out = Vec::with_capacity(body + 64 * (self.tools.len() + self.names.len()));
        let tables = (|| {
            out.extend_from_slice(b"{\"tools\":");
            serde_json::to_writer(&mut out, &self.tools)?;
            out.extend_from_slice(b",\"names\":");
            serde_json::to_writer(&mut out, &self.names)?;
            Ok::<_, serde_json::Error>(())
        })();
        tables.map_err(|e| Error::Internal(format!("writing a batch: {e}")))?;
        out.extend_from_slice(b",\"routes\":[");
        let written = joined(&mut out, routes, |r, out| {
            out.extend_from_slice(r);
            Ok(())
        });
        written.map_err(|e| Error::Internal(format!("writing a batch: {e}")))?;
        out.extend_from_slice(b"]}");
        // Every piece is serde_json's output or ASCII punctuation and digits.
        String::from_utf8(out).map_err(|e| Error::Internal(format!("a batch is not UTF-8: {e}")))
    }
}

/// Each of `items` written by `each`, with commas between them.
fn joined<T>(
    out: &mut Vec<u8>,
    items: &[T],
    mut each: impl FnMut(&T, &mut Vec<u8>) -> std::result::Result<(), serde_json::Error>,
) -> std::result::Result<(), serde_json::Error> {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(x, out)?;
    }
    Ok(())
}

/// `name`'s index in `table`, or `name` as a JSON string when it is not there.
fn ref_or_name(
    table: &HashMap<&str, usize>,
    name: &str,
    out: &mut Vec<u8>,
) -> std::result::Result<(), serde_json::Error> {
    // An empty table (`Tables::none`) is not hashed into.
    let i = if table.is_empty() {
        None
    } else {
        table.get(name)
    };
    match i {
        Some(i) => write!(out, "{i}").map_err(serde_json::Error::io),
        None => serde_json::to_writer(&mut *out, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Span;
    use crate::router::Alternative;
    use serde_json::{json, Map, Value};

    /// What a reader of the compact form rebuilds: the route as `serde_json` writes it.
    fn rebuild(tools: &[Value], names: &[Value], w: &Value) -> Value {
        let name = |table: &[Value], v: &Value| match v {
            Value::Number(n) => table[n.as_u64().unwrap_or(u64::MAX) as usize].clone(),
            other => other.clone(),
        };
        let flags = w[5].as_u64().unwrap_or(u64::MAX);
        let alts = w[2].as_array().cloned().unwrap_or_default();
        let spans = w[4].as_array().cloned().unwrap_or_default();
        let reason = ["confident", "low_confidence", "out_of_scope"][(flags >> 2) as usize];
        json!({
            "tool": if w[0].is_null() { Value::Null } else { name(tools, &w[0]) },
            "confidence": w[1],
            "alternatives": alts.chunks(2).map(|a| json!({"tool": name(tools, &a[0]), "confidence": a[1]})).collect::<Vec<_>>(),
            "args": w[3],
            "spans": spans.chunks(3).map(|s| json!({"name": name(names, &s[0]), "start": s[1], "end": s[2]})).collect::<Vec<_>>(),
            "abstained": flags & 1 == 1,
            "reason": reason,
            "missing": w[6],
            "invalid": w[7],
            "complete": flags & 2 == 2,
        })
    }

    fn route(tool: Option<&str>, reason: Reason) -> Route {
        let mut args = Map::new();
        args.insert("city".into(), json!("Paris \"centre\" ü"));
        args.insert("party_size".into(), json!(4));
        Route {
            tool: tool.map(str::to_string),
            confidence: 0.999_999_999_999_992_9,
            alternatives: vec![
                Alternative {
                    tool: "b".into(),
                    confidence: 3.144_365_408_682_719_3e-15,
                },
                Alternative {
                    tool: "not_in_the_table".into(),
                    confidence: 0.1,
                },
            ],
            args,
            spans: vec![
                Span {
                    name: "city".into(),
                    start: 3,
                    end: 8,
                },
                Span {
                    name: "unlisted".into(),
                    start: 10,
                    end: 12,
                },
            ],
            abstained: tool.is_none(),
            reason,
            missing: vec!["date".into()],
            invalid: vec![],
            complete: tool.is_some(),
        }
    }

    #[test]
    fn a_reader_rebuilds_every_route_exactly() -> Result<()> {
        let tables = Tables {
            tools: vec!["a", "b"],
            names: vec!["city", "party_size"],
            tool_index: index(&["a", "b"]),
            name_index: index(&["city", "party_size"]),
        };
        let routes = [
            route(Some("a"), Reason::Confident),
            route(None, Reason::LowConfidence),
            route(None, Reason::OutOfScope),
            route(Some("unknown_tool"), Reason::Confident),
        ];
        let parts = routes
            .iter()
            .map(|r| {
                let mut out = Vec::new();
                tables.write_route(r, &mut out).map(|_| out)
            })
            .collect::<Result<Vec<_>>>()?;
        let batch: Value = serde_json::from_str(&tables.batch(&parts)?)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let (tools, names) = (
            batch["tools"].as_array().cloned().unwrap_or_default(),
            batch["names"].as_array().cloned().unwrap_or_default(),
        );
        let wire = batch["routes"].as_array().cloned().unwrap_or_default();
        assert_eq!(wire.len(), routes.len());
        for (w, r) in wire.iter().zip(&routes) {
            let full = serde_json::to_value(r).map_err(|e| Error::Internal(e.to_string()))?;
            assert_eq!(rebuild(&tools, &names, w), full);
            // One route alone, no tables: the names are strings.
            let mut alone = Vec::new();
            Tables::none().write_route(r, &mut alone)?;
            let alone: Value =
                serde_json::from_slice(&alone).map_err(|e| Error::Internal(e.to_string()))?;
            assert!(alone[0].is_string() || alone[0].is_null());
            assert_eq!(rebuild(&[], &[], &alone), full);
        }
        Ok(())
    }
}
