//! Typed argument values: the text the tagger found, converted to the type the tool's JSON
//! Schema gives the argument: numbers (digits with separators, or words: "four", "twenty-one",
//! "a hundred"), booleans, enum members (matched case-insensitively, else the closest), arrays
//! for repeated arguments. What cannot be converted stays the user's text, and
//! [`check`] reports it; the TypeScript layer validates the whole call with ajv.
//!
//! ```
//! use serde_json::json;
//! use toolrouter_core::typed::convert;
//! assert_eq!(convert("1,000", Some(&json!({"type": "integer"}))), json!(1000));
//! assert_eq!(convert("twenty-one", Some(&json!({"type": "number"}))), json!(21.0));
//! assert_eq!(convert("celsius", Some(&json!({"enum": ["Celsius", "Fahrenheit"]}))), json!("Celsius"));
//! ```

use serde_json::{Map, Number, Value};

/// The schema of argument `name` in a tool's parameters (`properties.name`).
pub fn property<'a>(parameters: &'a Value, name: &str) -> Option<&'a Value> {
    parameters.get("properties")?.get(name)
}

/// The types a schema allows (`type` as a string or an array; none: any).
fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// `text` as the type `schema` asks for; the text itself when no conversion applies.
pub fn convert(text: &str, schema: Option<&Value>) -> Value {
    let Some(schema) = schema else {
        return Value::String(text.to_string());
    };
    if let Some(Value::Array(members)) = schema.get("enum") {
        if let Some(m) = closest_member(text, members) {
            return m.clone();
        }
    }
    let ts = types(schema);
    for t in &ts {
        let v = match *t {
            "integer" => parse_number(text)
                .filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15)
                .map(|n| Value::from(n as i64)),
            "number" => parse_number(text)
                .and_then(Number::from_f64)
                .map(Value::Number),
            "boolean" => parse_bool(text).map(Value::Bool),
            "array" => Some(Value::Array(vec![convert(text, schema.get("items"))])),
            _ => None,
        };
        if let Some(v) = v {
            return v;
        }
    }
    Value::String(text.to_string())
}

/// Converts every argument of a call (a repeated argument is an array of texts) for a tool
/// with `parameters`.
pub fn convert_args(args: &Map<String, Value>, parameters: &Value) -> Map<String, Value> {
    args.iter()
        .map(|(name, v)| {
            let schema = property(parameters, name);
            let wants_array = schema.is_some_and(|s| types(s).contains(&"array"));
            let item_schema = if wants_array {
                schema.and_then(|s| s.get("items"))
            } else {
                schema
            };
            let one = |v: &Value| match v {
                Value::String(s) => convert(s, item_schema),
                other => other.clone(),
            };
            let out = match v {
                Value::Array(items) => Value::Array(items.iter().map(one).collect()),
                single if wants_array => Value::Array(vec![one(single)]),
                single => one(single),
            };
            (name.clone(), out)
        })
        .collect()
}

/// The schema's required arguments missing from `args`, and the arguments whose value does not
/// have the schema's type (or is not one of its `enum` members).
pub fn check(args: &Map<String, Value>, parameters: &Value) -> (Vec<String>, Vec<String>) {
    let missing = match parameters.get("required") {
        Some(Value::Array(req)) => req
            .iter()
            .filter_map(Value::as_str)
            .filter(|r| !args.contains_key(*r))
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let invalid = args
        .iter()
        .filter(|(name, v)| property(parameters, name).is_some_and(|s| !fits(v, s)))
        .map(|(name, _)| name.clone())
        .collect();
    (missing, invalid)
}

/// Whether `v` has one of the schema's types and, when it has an `enum`, is a member.
fn fits(v: &Value, schema: &Value) -> bool {
    if let Some(Value::Array(members)) = schema.get("enum") {
        if !members.contains(v) {
            return false;
        }
    }
    let ts = types(schema);
    ts.is_empty()
        || ts.iter().any(|t| match *t {
            "string" => v.is_string(),
            "integer" => v.as_f64().is_some_and(|n| n.fract() == 0.0),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.as_array().is_some_and(|items| {
                schema
                    .get("items")
                    .is_none_or(|s| items.iter().all(|i| fits(i, s)))
            }),
            "object" => v.is_object(),
            "null" => v.is_null(),
            _ => true,
        })
}

/// The enum member that `text` names: equal ignoring case and surrounding space, else the one
/// string member at the smallest edit distance when that is at most a quarter of its length
/// (typos; so members under 4 characters match exactly only) and no other member is as close,
/// else none. Non-string members match their JSON text exactly ("3" for 3).
fn closest_member<'a>(text: &str, members: &'a [Value]) -> Option<&'a Value> {
    let t = text.trim().to_lowercase();
    let label = |m: &Value| match m {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string().to_lowercase(),
    };
    if let Some(m) = members.iter().find(|m| label(m) == t) {
        return Some(m);
    }
    let mut near: Vec<(&Value, usize)> = members
        .iter()
        .filter_map(|m| Some((m, m.as_str()?.to_lowercase())))
        .map(|(m, l)| (m, edit_distance(&l, &t), l.chars().count()))
        .filter(|&(_, d, len)| d * 4 <= len)
        .map(|(m, d, _)| (m, d))
        .collect();
    near.sort_by_key(|&(_, d)| d);
    match near.as_slice() {
        [(m, _)] => Some(m),
        [(m, a), (_, b), ..] if a < b => Some(m),
        _ => None,
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "true" | "yes" | "y" | "on" | "1" | "enable" | "enabled" => Some(true),
        "false" | "no" | "n" | "off" | "0" | "disable" | "disabled" => Some(false),
        _ => None,
    }
}

/// A number written with digits ("1,000", "3.5", "-2", "1 000", "1e3": thousands separators
/// only between groups of three) or English words ("four", "twenty-one", "a hundred and five",
/// "two thousand", "2 million", "minus ten"); `None` for anything else ("5-10", "3,5", "1, 2",
/// "one two").
pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    parse_digits(t).or_else(|| parse_words(t))
}

/// Digits with an optional sign, thousands groups (one separator, used throughout), decimals and
/// exponent.
fn parse_digits(t: &str) -> Option<f64> {
    let (sign, body) = match t.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, t),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let int_ok = match int
        .chars()
        .find(|c| matches!(c, ',' | '_' | ' ' | '\u{a0}'))
    {
        None => all_digits(int) || (int.is_empty() && frac.is_some()),
        Some(sep) => {
            let mut groups = int.split(sep);
            groups.next().is_some_and(|g| all_digits(g) && g.len() <= 3)
                && groups.all(|g| all_digits(g) && g.len() == 3)
        }
    };
    let exp_ok = exponent.is_none_or(|e| all_digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    if !int_ok || !frac.is_none_or(all_digits) || !exp_ok {
        return None;
    }
    let plain: String = body
        .chars()
        .filter(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        .collect();
    plain.parse::<f64>().ok().map(|n| sign * n)
}

fn parse_words(text: &str) -> Option<f64> {
    const SMALL: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    /// What the previous word was: what may follow depends on it.
    #[derive(PartialEq, Clone, Copy)]
    enum Last {
        Start,
        Small,
        Tens,
        Digits,
        A,
        And,
        Hundred,
        Scale,
    }
    let lower = text.to_lowercase();
    let (sign, lower) = match lower
        .strip_prefix('-')
        .or_else(|| lower.strip_prefix("minus "))
    {
        Some(rest) => (-1.0, rest.to_string()),
        None => (1.0, lower),
    };
    // A hyphen joins words ("twenty-one"), never numbers ("5-10", "555-1234").
    let chars: Vec<char> = lower.chars().collect();
    let joined: String = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let letters = |j: Option<usize>| {
                j.and_then(|j| chars.get(j))
                    .is_some_and(|c| c.is_alphabetic())
            };
            if c == '-' && letters(i.checked_sub(1)) && letters(Some(i + 1)) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let (mut total, mut current, mut last) = (0f64, 0f64, Last::Start);
    for w in joined.split_whitespace() {
        let value_may_come = matches!(last, Last::Start | Last::Hundred | Last::Scale | Last::And);
        last = if let Some(i) = SMALL.iter().position(|s| *s == w) {
            // "twenty one", but not "one two" or "twenty twelve".
            if !(value_may_come || (last == Last::Tens && (1..10).contains(&i))) {
                return None;
            }
            current += i as f64;
            Last::Small
        } else if let Some(i) = TENS.iter().position(|s| *s == w) {
            if !value_may_come {
                return None;
            }
            current += 20.0 + 10.0 * i as f64;
            Last::Tens
        } else if w == "a" || w == "an" {
            if last != Last::Start {
                return None;
            }
            current = 1.0;
            Last::A
        } else if w == "and" {
            if !matches!(last, Last::Hundred | Last::Scale) {
                return None;
            }
            Last::And
        } else if w == "hundred" {
            if !matches!(last, Last::Start | Last::Small | Last::A | Last::Digits) {
                return None;
            }
            current = current.max(1.0) * 100.0;
            Last::Hundred
        } else if let Some(scale) = match w {
            "thousand" => Some(1e3),
            "million" => Some(1e6),
            "billion" => Some(1e9),
            _ => None,
        } {
            if matches!(last, Last::And | Last::Scale) {
                return None;
            }
            total += current.max(1.0) * scale;
            current = 0.0;
            Last::Scale
        } else if last == Last::Start {
            // Digits only first, and only before a scale word ("2 million", "2.5 thousand").
            current = parse_digits(w)?;
            Last::Digits
        } else {
            return None;
        };
    }
    // "a" and "and" need what follows them; digits alone were not words.
    if matches!(last, Last::Start | Last::A | Last::And | Last::Digits) {
        return None;
    }
    Some(sign * (total + current))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_in_digits_and_words() {
        for (text, want) in [
            ("4", 4.0),
            ("four", 4.0),
            ("1,000", 1000.0),
            ("3.5", 3.5),
            ("-2", -2.0),
            ("twenty-one", 21.0),
            ("a hundred and five", 105.0),
            ("two thousand five hundred", 2500.0),
            ("1 000", 1000.0),
            ("2 million", 2e6),
        ] {
            assert_eq!(parse_number(text), Some(want), "{text}");
        }
        for text in ["", "four o'clock", "next friday", "1.2.3", "and"] {
            assert_eq!(parse_number(text), None, "{text}");
        }
    }

    #[test]
    fn numbers_need_their_whole_text() {
        // Found by review: ranges and ids summed ("5-10" was 15), stray separators joined
        // ("3,5" was 35), a run of numbers added up ("one two three" was 6).
        for (text, want) in [
            ("-1e3", -1000.0),
            ("1e3", 1000.0),
            ("-twenty", -20.0),
            ("minus ten", -10.0),
            ("twenty one", 21.0),
            ("two thousand and one", 2001.0),
            ("one hundred twenty-three", 123.0),
            ("1,000,000.5", 1_000_000.5),
            (".5", 0.5),
            ("2.5 thousand", 2500.0),
        ] {
            assert_eq!(parse_number(text), Some(want), "{text}");
        }
        for text in [
            "5-10",
            "555-1234",
            "2024-01-15",
            "3,5",
            "1, 2, 3",
            "3 4",
            "12,34",
            "one two three",
            "twenty twelve",
            "3 and 4",
            "a",
            "an",
            "five and",
        ] {
            assert_eq!(parse_number(text), None, "{text}");
        }
    }

    #[test]
    fn short_or_numeric_enum_members_match_exactly_and_ties_match_nothing() {
        let size = json!({"enum": ["S", "M", "L", "XL"]});
        assert_eq!(convert("a", Some(&size)), json!("a"));
        assert_eq!(convert("xl", Some(&size)), json!("XL"));
        assert_eq!(convert("K", Some(&json!({"enum": ["C", "F"]}))), json!("K"));
        let n = json!({"enum": [10, 20, 50]});
        assert_eq!(convert("30", Some(&n)), json!("30"));
        assert_eq!(convert("20", Some(&n)), json!(20));
        // "of" is one edit from both: no guess.
        assert_eq!(
            convert("of", Some(&json!({"enum": ["on", "off"]}))),
            json!("of")
        );
        let sort = json!({"enum": ["newest", "oldest"]});
        assert_eq!(convert("newst", Some(&sort)), json!("newest"));
    }

    #[test]
    fn conversion_follows_the_schema() {
        let int = json!({"type": "integer"});
        assert_eq!(convert("ten", Some(&int)), json!(10));
        assert_eq!(
            convert("3.5", Some(&int)),
            json!("3.5"),
            "not an integer: kept as text"
        );
        assert_eq!(convert("3.5", Some(&json!({"type": "number"}))), json!(3.5));
        assert_eq!(
            convert("Yes", Some(&json!({"type": "boolean"}))),
            json!(true)
        );
        let unit = json!({"type": "string", "enum": ["Celsius", "Fahrenheit"]});
        assert_eq!(convert(" CELSIUS ", Some(&unit)), json!("Celsius"));
        assert_eq!(
            convert("farenheit", Some(&unit)),
            json!("Fahrenheit"),
            "a typo"
        );
        assert_eq!(
            convert("kelvin", Some(&unit)),
            json!("kelvin"),
            "no close member"
        );
        assert_eq!(
            convert("Zürich", Some(&json!({"type": "string"}))),
            json!("Zürich")
        );
        assert_eq!(convert("x", None), json!("x"));
        assert_eq!(
            convert("5", Some(&json!({"type": ["integer", "string"]}))),
            json!(5)
        );
    }

    #[test]
    fn repeated_arguments_become_arrays_of_typed_items() {
        let params = json!({"properties": {
            "tags": {"type": "array", "items": {"type": "string"}},
            "n": {"type": "integer"},
            "ids": {"type": "array", "items": {"type": "integer"}}
        }});
        let args = json!({"tags": "work", "n": "two", "ids": ["1", "two"]});
        let out = convert_args(args.as_object().unwrap(), &params);
        assert_eq!(
            Value::Object(out),
            json!({"tags": ["work"], "n": 2, "ids": [1, 2]})
        );
    }

    #[test]
    fn check_reports_missing_and_ill_typed_arguments() {
        let params = json!({
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                           "unit": {"enum": ["C", "F"]}},
            "required": ["city", "days"]
        });
        let args = json!({"days": "soon", "unit": "K"});
        let (missing, invalid) = check(args.as_object().unwrap(), &params);
        assert_eq!(missing, vec!["city"]);
        assert_eq!(invalid, vec!["days", "unit"]);
        let ok = json!({"city": "Oslo", "days": 3, "unit": "C"});
        assert_eq!(check(ok.as_object().unwrap(), &params), (vec![], vec![]));
    }
}
