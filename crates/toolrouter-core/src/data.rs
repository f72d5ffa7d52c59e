//! Tools and examples: the JSON / JSONL formats the router learns from.
//!
//! * Tools: a JSON array of `{ "name", "description", "parameters" }` (JSON Schema), or OpenAI's
//!   `{ "type": "function", "function": { ... } }` wrapper around the same fields.
//! * Examples: JSONL, one `{ "text", "tool", "args"?, "spans"? }` a line; `"tool": null` marks a
//!   request that no tool serves (out of scope). Span offsets count Unicode code points.
//!
//! ```
//! use toolrouter_core::data::{parse_examples, parse_tools};
//! let tools = parse_tools(r#"[{"name":"get_weather","description":"Weather","parameters":{"type":"object"}}]"#, "tools.json".as_ref())?;
//! let ex = parse_examples("{\"text\":\"rain in Oslo?\",\"tool\":\"get_weather\"}\n", "t.jsonl".as_ref(), Some(&tools))?;
//! assert_eq!(ex[0].tool.as_deref(), Some("get_weather"));
//! # Ok::<(), toolrouter_core::Error>(())
//! ```

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// A tool the agent can call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the arguments (an object schema).
    #[serde(default = "empty_schema")]
    pub parameters: Value,
}

fn empty_schema() -> Value {
    serde_json::json!({ "type": "object", "properties": {} })
}

/// An argument's location in `text`, in Unicode code points, `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub name: String,
    pub start: usize,
    pub end: usize,
}

/// One training or evaluation example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub text: String,
    /// `None`: no tool serves this request (out of scope).
    pub tool: Option<String>,
    #[serde(default)]
    pub args: Map<String, Value>,
    #[serde(default)]
    pub spans: Vec<Span>,
}

impl Example {
    pub fn new(text: impl Into<String>, tool: Option<&str>) -> Self {
        Example {
            text: text.into(),
            tool: tool.map(str::to_string),
            args: Map::new(),
            spans: Vec::new(),
        }
    }
}

/// The UTF-8 byte order mark some editors write at the start of a file; skipped.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads and validates a tools file.
pub fn load_tools(path: &Path) -> Result<Vec<ToolSpec>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_tools_bytes(&bytes, path)
}

/// Parses a tools JSON document; `path` is only used in error messages.
pub fn parse_tools(text: &str, path: &Path) -> Result<Vec<ToolSpec>> {
    parse_tools_bytes(text.as_bytes(), path)
}

/// Parses a tools JSON document from raw bytes (what [`load_tools`] reads): bytes that are not
/// UTF-8 JSON give `TOOLS_INVALID`; `path` is only used in error messages.
pub fn parse_tools_bytes(bytes: &[u8], path: &Path) -> Result<Vec<ToolSpec>> {
    let bad = |reason: String| Error::ToolsInvalid {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let root: Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let items = match root {
        Value::Array(items) => items,
        // `{ "tools": [...] }`, as some agent configs store them.
        Value::Object(mut o) => match o.remove("tools") {
            Some(Value::Array(items)) => items,
            _ => return Err(bad("expected a JSON array of tools".into())),
        },
        _ => return Err(bad("expected a JSON array of tools".into())),
    };
    if items.is_empty() {
        return Err(bad("no tools defined".into()));
    }
    let mut seen = HashSet::new();
    let mut tools = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        // The array index, as a JSON path: a parsed `Value` keeps no line numbers.
        let tool = tool_from_value(item).map_err(|reason| bad(format!("tools[{i}]: {reason}")))?;
        if !seen.insert(tool.name.clone()) {
            return Err(bad(format!(
                "tools[{i}]: duplicate tool name `{}`",
                tool.name
            )));
        }
        tools.push(tool);
    }
    Ok(tools)
}

/// Accepts `{name, description, parameters}`, OpenAI's Chat Completions `{type: "function",
/// function: {...}}` and Responses `{type: "function", name, ...}`, and Anthropic's `{name,
/// description, input_schema}`. Errors name the field as the input spells it
/// (`function.name`, `input_schema.properties`).
pub fn tool_from_value(item: Value) -> std::result::Result<ToolSpec, String> {
    let Value::Object(mut obj) = item else {
        return Err("expected an object".into());
    };
    let mut at = "";
    if obj.get("type").and_then(Value::as_str) == Some("function") && obj.contains_key("function") {
        match obj.remove("function") {
            Some(Value::Object(f)) => obj = f,
            _ => return Err("field `function`: expected an object".into()),
        }
        at = "function.";
    }
    let name = match obj.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(format!("field `{at}name`: empty")),
        Some(_) => return Err(format!("field `{at}name`: expected a string")),
        None => return Err(format!("field `{at}name`: missing")),
    };
    if name.eq_ignore_ascii_case("finish") {
        return Err(format!("field `{at}name`: `finish` is reserved"));
    }
    let description = match obj.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(format!(
                "tool `{name}`: field `{at}description`: expected a string"
            ))
        }
    };
    // `parameters: null` is no schema: an `input_schema` beside it is read.
    let (key, schema) = match obj.remove("parameters") {
        Some(v) if !v.is_null() => ("parameters", Some(v)),
        _ => ("input_schema", obj.remove("input_schema")),
    };
    let parameters = match schema {
        None | Some(Value::Null) => empty_schema(),
        Some(Value::Object(p)) => {
            if let Some(props) = p.get("properties") {
                if !props.is_object() {
                    return Err(format!(
                        "tool `{name}`: field `{at}{key}.properties`: expected an object"
                    ));
                }
            }
            Value::Object(p)
        }
        Some(_) => {
            return Err(format!(
                "tool `{name}`: field `{at}{key}`: expected a JSON Schema object"
            ))
        }
    };
    Ok(ToolSpec {
        name,
        description,
        parameters,
    })
}

/// Reads a JSONL examples file, streaming it line by line. With `tools`, every `tool` must be
/// one of them.
pub fn load_examples(path: &Path, tools: Option<&[ToolSpec]>) -> Result<Vec<Example>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_examples(BufReader::new(file), path, tools)
}

/// Parses JSONL text; `path` is only used in error messages.
pub fn parse_examples(text: &str, path: &Path, tools: Option<&[ToolSpec]>) -> Result<Vec<Example>> {
    read_examples(text.as_bytes(), path, tools)
}

/// Reads JSONL examples from any reader, one line at a time (memory: the examples, not the
/// file); `path` is only used in error messages. [`load_examples`] and [`parse_examples`] are
/// this over a file and over a string.
pub fn read_examples(
    reader: impl BufRead,
    path: &Path,
    tools: Option<&[ToolSpec]>,
) -> Result<Vec<Example>> {
    let names: Option<HashSet<&str>> = tools.map(|t| t.iter().map(|t| t.name.as_str()).collect());
    let mut out = Vec::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let lineno = i + 1;
        let bad = |reason: String| Error::DatasetInvalid {
            path: path.to_path_buf(),
            line: lineno,
            reason,
        };
        let line = line.map_err(|e| Error::io(path, e))?;
        let line = match line.strip_prefix(BOM) {
            Some(rest) if i == 0 => rest,
            _ => &line[..],
        };
        let line = std::str::from_utf8(line).map_err(|e| bad(format!("not valid UTF-8: {e}")))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(line).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let ex = example_from_value(value).map_err(bad)?;
        if let (Some(names), Some(tool)) = (&names, &ex.tool) {
            if !names.contains(tool.as_str()) {
                return Err(bad(format!(
                    "field `tool`: `{tool}` is not defined in the tools"
                )));
            }
        }
        out.push(ex);
    }
    if out.is_empty() {
        return Err(Error::DatasetInvalid {
            path: path.to_path_buf(),
            line: 0,
            reason: "no examples (the file is empty)".into(),
        });
    }
    Ok(out)
}

/// Validates one example object; the error names the field.
pub fn example_from_value(value: Value) -> std::result::Result<Example, String> {
    let Value::Object(mut obj) = value else {
        return Err("expected a JSON object".into());
    };
    let text = match obj.remove("text") {
        Some(Value::String(s)) => s,
        Some(_) => return Err("field `text`: expected a string".into()),
        None => return Err("field `text`: missing".into()),
    };
    let tool = match obj.remove("tool") {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::String(_)) => {
            return Err("field `tool`: empty string (use null for out-of-scope)".into())
        }
        Some(Value::Null) => None,
        Some(_) => return Err("field `tool`: expected a string or null".into()),
        None => return Err("field `tool`: missing (use null for a request no tool serves)".into()),
    };
    let args = match obj.remove("args") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err("field `args`: expected an object".into()),
    };
    let spans: Vec<Span> = match obj.remove("spans") {
        None | Some(Value::Null) => Vec::new(),
        // One at a time, so an error names the span.
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(k, v)| serde_json::from_value(v).map_err(|e| format!("field `spans[{k}]`: {e}")))
            .collect::<std::result::Result<_, _>>()?,
        Some(_) => return Err("field `spans`: expected an array".into()),
    };
    let n_chars = text.chars().count();
    for (k, s) in spans.iter().enumerate() {
        if s.start > s.end || s.end > n_chars {
            return Err(format!(
                "field `spans[{k}]`: [{}, {}) is outside the text ({n_chars} characters)",
                s.start, s.end
            ));
        }
    }
    Ok(Example {
        text,
        tool,
        args,
        spans,
    })
}

/// Checks examples passed in memory (from JS) against the tools; errors name the example index.
pub fn check_examples(examples: &[Example], tools: &[ToolSpec], what: &str) -> Result<()> {
    let names: HashSet<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    for (i, ex) in examples.iter().enumerate() {
        if let Some(t) = &ex.tool {
            if !names.contains(t.as_str()) {
                return Err(Error::invalid(
                    what,
                    format!(
                        "example #{i} (\"{}\"): tool `{t}` is not defined in the tools",
                        preview(&ex.text)
                    ),
                ));
            }
        }
        let n_chars = ex.text.chars().count();
        if let Some(s) = ex.spans.iter().find(|s| s.start > s.end || s.end > n_chars) {
            return Err(Error::invalid(
                what,
                format!(
                    "example #{i}: span `{}` [{}, {}) is outside the text",
                    s.name, s.start, s.end
                ),
            ));
        }
    }
    Ok(())
}

pub(crate) fn preview(text: &str) -> String {
    let mut s: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools() -> Vec<ToolSpec> {
        parse_tools(
            r#"[{"name":"a","description":"A","parameters":{"type":"object","properties":{"x":{"type":"string"}}}},
                {"type":"function","function":{"name":"b","description":"B"}}]"#,
            Path::new("tools.json"),
        )
        .unwrap()
    }

    #[test]
    fn accepts_plain_and_openai_wrapped_tools() {
        let t = tools();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].name, "b");
        assert_eq!(t[1].parameters["type"], "object");
    }

    #[test]
    fn bad_tools_name_the_problem() {
        let p = Path::new("tools.json");
        let e = parse_tools("[{\"name\":\"a\"},{\"name\":\"a\"}]", p).unwrap_err();
        assert_eq!(e.code(), "TOOLS_INVALID");
        assert!(e.to_string().contains("duplicate tool name `a`"), "{e}");
        let e = parse_tools("[{\"description\":\"x\"}]", p).unwrap_err();
        assert!(
            e.to_string().contains("tools[0]: field `name`: missing"),
            "{e}"
        );
        let e = parse_tools("{", p).unwrap_err();
        assert!(e.to_string().contains("invalid JSON"), "{e}");
        let e = parse_tools("[{\"name\":\"a\",\"parameters\":3}]", p).unwrap_err();
        assert!(e.to_string().contains("parameters"), "{e}");
        // The field as the input spells it: wrapped in `function`, or Anthropic's `input_schema`.
        let e =
            parse_tools(r#"[{"type":"function","function":{"description":"x"}}]"#, p).unwrap_err();
        assert!(
            e.to_string().contains("field `function.name`: missing"),
            "{e}"
        );
        let e = parse_tools(r#"[{"name":"a","input_schema":{"properties":[]}}]"#, p).unwrap_err();
        assert!(
            e.to_string().contains("field `input_schema.properties`"),
            "{e}"
        );
    }

    #[test]
    fn responses_tools_and_a_null_parameters_beside_an_input_schema_are_read() {
        let p = Path::new("tools.json");
        let t = parse_tools(
            r#"[{"type":"function","name":"a","parameters":{"type":"object","properties":{"x":{}}}},
                {"name":"b","parameters":null,"input_schema":{"type":"object","properties":{"y":{}}}}]"#,
            p,
        )
        .unwrap();
        assert_eq!(t[0].name, "a");
        assert!(t[0].parameters["properties"]["x"].is_object());
        assert!(t[1].parameters["properties"]["y"].is_object());
    }

    #[test]
    fn bad_lines_give_file_line_and_field() {
        let t = tools();
        let p = Path::new("train.jsonl");
        let cases = [
            ("{\"text\":\"hi\",\"tool\":\"a\"}\n{oops\n", 2, "invalid JSON"),
            ("\n{\"tool\":\"a\"}\n", 2, "field `text`: missing"),
            ("{\"text\":5,\"tool\":\"a\"}", 1, "field `text`: expected a string"),
            ("{\"text\":\"x\",\"tool\":\"zzz\"}", 1, "`zzz` is not defined"),
            ("{\"text\":\"x\"}", 1, "field `tool`: missing"),
            ("{\"text\":\"xy\",\"tool\":\"a\",\"spans\":[{\"name\":\"x\",\"start\":1,\"end\":5}]}", 1, "spans[0]"),
            ("{\"text\":\"xy\",\"tool\":\"a\",\"spans\":[{\"name\":\"x\",\"start\":0,\"end\":1},{\"start\":0,\"end\":1}]}", 1, "field `spans[1]`: missing field `name`"),
        ];
        for (src, line, needle) in cases {
            let e = parse_examples(src, p, Some(&t)).unwrap_err();
            assert_eq!(e.code(), "DATASET_INVALID");
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("train.jsonl:{line}:")), "{msg}");
            assert!(msg.contains(needle), "{msg}");
        }
        let e = parse_examples("\n\n", p, None).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_bad_utf8_is_the_file_s_fault() -> Result<()> {
        let p = Path::new("x");
        let ex = parse_examples("\u{feff}{\"text\":\"hi\",\"tool\":null}\r\n", p, None)?;
        assert_eq!(ex[0].text, "hi");
        let t = parse_tools_bytes(b"\xEF\xBB\xBF[{\"name\":\"a\"}]", p)?;
        assert_eq!(t[0].name, "a");
        let e = parse_tools_bytes(b"[{\"name\":\"\xff\"}]", p).unwrap_err();
        assert_eq!(e.code(), "TOOLS_INVALID");
        let e = read_examples(&b"{\"text\":\"\xff\",\"tool\":null}"[..], p, None).unwrap_err();
        assert_eq!(e.code(), "DATASET_INVALID");
        Ok(())
    }

    #[test]
    fn null_tool_is_out_of_scope() -> Result<()> {
        let ex = parse_examples("{\"text\":\"hello\",\"tool\":null}", Path::new("x"), None)?;
        assert_eq!(ex[0].tool, None);
        Ok(())
    }
}
