//! A small JSON reader (RFC 8259) for request bodies, walked by [`crate::predict`] so that a
//! patient's members land in their feature's slot as they are read: no JSON tree is built, and
//! values nobody asked for are checked and skipped without being kept.
//!
//! It accepts exactly JSON text: UTF-8, the grammar's numbers, strings with their escapes and
//! no raw control characters, at most [`MAX_DEPTH`] nested arrays and objects (serde_json's
//! limit, so a deep body is refused rather than overflowing the stack), and nothing but
//! whitespace after the value. Numbers that do not fit an f64 are refused too. A name given
//! twice in one object is JSON text as well (RFC 8259 only says names should be unique): the
//! reader passes every member on, and [`crate::predict`] refuses a repeated key where it reads
//! a patient or the batch wrapper.

use std::borrow::Cow;
use std::fmt;

/// Deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 127;

/// Powers of ten exact in an f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// What kind of value comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    /// The kind in words, for error messages ("found an array").
    pub fn words(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Boolean => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// Why a body is not JSON, and where: `"expected value at line 1 column 7"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    what: &'static str,
    line: usize,
    column: usize,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.what, self.line, self.column
        )
    }
}

pub type Result<T> = std::result::Result<T, SyntaxError>;

/// A cursor over a body's bytes.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            at: 0,
            depth: 0,
        }
    }

    /// The kind of the next value, without reading it.
    pub fn peek_kind(&mut self) -> Result<Kind> {
        match self.peek() {
            Some(b'{') => Ok(Kind::Object),
            Some(b'[') => Ok(Kind::Array),
            Some(b'"') => Ok(Kind::String),
            Some(b't' | b'f') => Ok(Kind::Boolean),
            Some(b'n') => Ok(Kind::Null),
            Some(b'-' | b'0'..=b'9') => Ok(Kind::Number),
            Some(_) => self.fail("expected value"),
            None => self.fail("EOF while parsing a value"),
        }
    }

    /// Reads a number (the next value must be one).
    pub fn number(&mut self) -> Result<f64> {
        self.skip_whitespace();
        let start = self.at;
        let negative = self.eat(b'-');
        // The digits as an integer, and the power of ten to scale it by, while they fit.
        let mut mantissa: u64 = 0;
        let mut digits = 0;
        let mut scale: i32 = 0;
        let mut accumulate = |b: u8, fraction: bool| {
            if digits < 19 {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                if mantissa != 0 {
                    digits += 1;
                }
                if fraction {
                    scale -= 1;
                }
            } else if !fraction {
                scale += 1;
            }
        };
        match self.next_byte() {
            Some(b'0') => {}
            Some(b @ b'1'..=b'9') => {
                accumulate(b, false);
                while let Some(&b @ b'0'..=b'9') = self.bytes.get(self.at) {
                    accumulate(b, false);
                    self.at += 1;
                }
            }
            _ => return self.fail("invalid number"),
        }
        if self.eat(b'.') {
            self.require_digit()?;
            while let Some(&b @ b'0'..=b'9') = self.bytes.get(self.at) {
                accumulate(b, true);
                self.at += 1;
            }
        }
        let mut exact = true;
        if self.eat(b'e') || self.eat(b'E') {
            exact = false;
            let _ = self.eat(b'+') || self.eat(b'-');
            self.require_digit()?;
            while matches!(self.bytes.get(self.at), Some(b'0'..=b'9')) {
                self.at += 1;
            }
        }
        // Clinger's fast path: an integer below 2^53 and a power of ten up to 10^22 are both
        // exact in an f64, so one multiplication or division rounds correctly. Anything else
        // goes to serde_json's parser, which (without its `float_roundtrip` feature) can be
        // an ulp off for some 16- and 17-digit decimals (971.0485442033041 reads as
        // 971.048544203304): what the service read before this reader existed.
        if exact && digits < 19 && mantissa < (1 << 53) && (-22..=22).contains(&scale) {
            let m = mantissa as f64;
            let x = if scale < 0 {
                m / POW10[(-scale) as usize]
            } else {
                m * POW10[scale as usize]
            };
            return Ok(if negative { -x } else { x });
        }
        // serde_json's parser, which the component links anyway (Rust's own would make the .wasm
        // larger: bench/RESULTS.md, "Tried and not kept").
        match serde_json::from_slice::<f64>(&self.bytes[start..self.at]) {
            Ok(x) if x.is_finite() => Ok(x),
            _ => self.fail("number out of range"),
        }
    }

    /// Reads a string, unescaped (borrowed from the body when it has no escapes).
    pub fn string(&mut self) -> Result<Cow<'a, str>> {
        self.skip_whitespace();
        if !self.eat(b'"') {
            return self.fail("expected string");
        }
        let bytes = self.bytes;
        let start = self.at;
        // The common case, a string without escapes, in one scan.
        while let Some(&b) = bytes.get(self.at) {
            match b {
                b'"' => {
                    self.at += 1;
                    return match std::str::from_utf8(&bytes[start..self.at - 1]) {
                        Ok(s) => Ok(Cow::Borrowed(s)),
                        Err(_) => self.fail("invalid unicode code point"),
                    };
                }
                b'\\' => break,
                0..=0x1f => break,
                _ => self.at += 1,
            }
        }
        let mut buf = bytes[start..self.at].to_vec();
        loop {
            match self.next_byte() {
                Some(b'"') => break,
                Some(b'\\') => {
                    let escaped = self.escape()?;
                    buf.extend_from_slice(escaped.encode_utf8(&mut [0; 4]).as_bytes());
                }
                Some(0..=0x1f) => {
                    self.at -= 1;
                    return self
                        .fail("control character (\\u0000-\\u001F) found while parsing a string");
                }
                Some(b) => buf.push(b),
                None => return self.fail("EOF while parsing a string"),
            }
        }
        match String::from_utf8(buf) {
            Ok(s) => Ok(Cow::Owned(s)),
            Err(_) => self.fail("invalid unicode code point"),
        }
    }

    /// Reads and drops the next value, whatever it is.
    pub fn skip(&mut self) -> Result<()> {
        match self.peek_kind()? {
            Kind::Null => self.literal(b"null"),
            Kind::Boolean if self.bytes[self.at] == b't' => self.literal(b"true"),
            Kind::Boolean => self.literal(b"false"),
            Kind::Number => self.number().map(drop),
            Kind::String => self.string().map(drop),
            Kind::Array => {
                let mut items = self.array()?;
                while items.next(self)? {
                    self.skip()?;
                }
                Ok(())
            }
            Kind::Object => {
                let mut members = self.object()?;
                while members.next_key(self)?.is_some() {
                    self.skip()?;
                }
                Ok(())
            }
        }
    }

    /// Enters the array that comes next; [`Items::next`] walks its elements.
    pub fn array(&mut self) -> Result<Items> {
        self.enter(b'[')?;
        Ok(Items { first: true })
    }

    /// Enters the object that comes next; [`Members::next_key`] walks its members.
    pub fn object(&mut self) -> Result<Members> {
        self.enter(b'{')?;
        Ok(Members { first: true })
    }

    /// How many bytes are left to read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// Checks that nothing but whitespace follows the value.
    pub fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("trailing characters"),
        }
    }

    fn enter(&mut self, open: u8) -> Result<()> {
        self.skip_whitespace();
        if !self.eat(open) {
            return self.fail("expected value");
        }
        if self.depth == MAX_DEPTH {
            return self.fail("recursion limit exceeded");
        }
        self.depth += 1;
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        self.skip_whitespace();
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else if word.starts_with(&self.bytes[self.at..]) {
            self.at = self.bytes.len();
            self.fail("EOF while parsing a value")
        } else {
            self.fail("expected ident")
        }
    }

    /// After a backslash in a string: the escaped character.
    fn escape(&mut self) -> Result<char> {
        let c = match self.next_byte() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let first = self.hex4()?;
                let code = match first {
                    0xD800..=0xDBFF => {
                        if !(self.eat(b'\\') && self.eat(b'u')) {
                            return self.fail("lone leading surrogate in hex escape");
                        }
                        match self.hex4()? {
                            low @ 0xDC00..=0xDFFF => {
                                0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
                            }
                            _ => return self.fail("lone leading surrogate in hex escape"),
                        }
                    }
                    0xDC00..=0xDFFF => return self.fail("lone trailing surrogate in hex escape"),
                    code => code,
                };
                match char::from_u32(code) {
                    Some(c) => c,
                    None => return self.fail("invalid unicode code point"),
                }
            }
            Some(_) => return self.fail("invalid escape"),
            None => return self.fail("EOF while parsing a string"),
        };
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = match self.next_byte() {
                Some(b) => (b as char).to_digit(16),
                None => return self.fail("EOF while parsing a string"),
            };
            match digit {
                Some(d) => code = code * 16 + d,
                None => return self.fail("invalid escape"),
            }
        }
        Ok(code)
    }

    fn require_digit(&mut self) -> Result<()> {
        match self.bytes.get(self.at) {
            Some(b'0'..=b'9') => Ok(()),
            _ => self.fail("invalid number"),
        }
    }

    /// Whether `"name"` (quotes included) comes next.
    fn quoted_at(&self, name: &str) -> bool {
        let rest = &self.bytes[self.at..];
        // A byte loop: these names are a few bytes long, shorter than a call to memcmp.
        rest.len() > name.len() + 1
            && name.bytes().zip(&rest[1..]).all(|(a, &b)| a == b)
            && rest[name.len() + 1] == b'"'
    }

    #[inline]
    fn skip_whitespace(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.at).copied()
    }

    #[inline]
    fn next_byte(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.at).copied();
        if b.is_some() {
            self.at += 1;
        }
        b
    }

    #[inline]
    fn eat(&mut self, b: u8) -> bool {
        if self.bytes.get(self.at) == Some(&b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// A syntax error at the current position (line and column counted from 1, the column
    /// in bytes).
    fn fail<T>(&self, what: &'static str) -> Result<T> {
        let before = &self.bytes[..self.at.min(self.bytes.len())];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + before.iter().rev().take_while(|&&b| b != b'\n').count();
        Err(SyntaxError { what, line, column })
    }
}

/// The elements of an array being read.
pub struct Items {
    first: bool,
}

impl Items {
    /// Moves to the next element: `true` when there is one to read now, `false` at the end.
    pub fn next(&mut self, r: &mut Reader) -> Result<bool> {
        let first = std::mem::replace(&mut self.first, false);
        match r.peek() {
            Some(b']') => {
                r.at += 1;
                r.depth -= 1;
                Ok(false)
            }
            Some(b',') if !first => {
                r.at += 1;
                match r.peek() {
                    Some(b']') => r.fail("trailing comma"),
                    _ => Ok(true),
                }
            }
            Some(_) if first => Ok(true),
            Some(_) => r.fail("expected `,` or `]`"),
            None => r.fail("EOF while parsing a list"),
        }
    }
}

/// A member name read by [`Members::next_key_guessing`].
pub enum Key<'a> {
    /// The guess.
    Guessed(&'static str),
    /// Any other name.
    Other(Cow<'a, str>),
}

/// The members of an object being read.
pub struct Members {
    first: bool,
}

impl Members {
    /// Moves to the next member and reads its name (its value is read next), or `None` at
    /// the end.
    pub fn next_key<'a>(&mut self, r: &mut Reader<'a>) -> Result<Option<Cow<'a, str>>> {
        Ok(self.next_key_guessing(r, None)?.map(|key| match key {
            Key::Guessed(name) => Cow::Borrowed(name),
            Key::Other(name) => name,
        }))
    }

    /// [`Members::next_key`], trying `guess` first: when the name is exactly it (written
    /// without escapes), it is matched in place instead of being scanned and checked as text.
    /// Clients mostly send members in one fixed order, so a reader that knows the order reads
    /// most names with one comparison.
    pub fn next_key_guessing<'a>(
        &mut self,
        r: &mut Reader<'a>,
        guess: Option<&'static str>,
    ) -> Result<Option<Key<'a>>> {
        let first = std::mem::replace(&mut self.first, false);
        match r.peek() {
            Some(b'}') => {
                r.at += 1;
                r.depth -= 1;
                return Ok(None);
            }
            Some(b',') if !first => {
                r.at += 1;
                if r.peek() == Some(b'}') {
                    return r.fail("trailing comma");
                }
            }
            Some(_) if first => {}
            Some(_) => return r.fail("expected `,` or `}`"),
            None => return r.fail("EOF while parsing an object"),
        }
        match r.peek() {
            Some(b'"') => {}
            Some(_) => return r.fail("key must be a string"),
            None => return r.fail("EOF while parsing an object"),
        }
        let key = match guess {
            Some(name) if r.quoted_at(name) => {
                r.at += name.len() + 2;
                Key::Guessed(name)
            }
            _ => Key::Other(r.string()?),
        };
        match r.peek() {
            Some(b':') => r.at += 1,
            Some(_) => return r.fail("expected `:`"),
            None => return r.fail("EOF while parsing an object"),
        }
        Ok(Some(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a whole body as one value, skipping it: the syntax check alone.
    fn check(text: &str) -> Result<()> {
        let mut r = Reader::new(text.as_bytes());
        r.skip()?;
        r.end()
    }

    #[test]
    fn accepts_json_text() {
        for ok in [
            "0",
            "-0",
            "1.5e-3",
            "12E+2",
            "-0.0e0",
            "\"\"",
            "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
            "\"\\u00e9\\ud83d\\ude00\"",
            "\"é😀\"",
            "true",
            "false",
            "null",
            "[]",
            "{}",
            " [1, [2, {\"a\": [null]}], {\"\": {}}] ",
            "\t{\"k\"\n:\r1}\n",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn refuses_what_is_not_json() {
        for (bad, why) in [
            ("", "EOF while parsing a value"),
            ("01", "trailing characters"),
            ("1.", "invalid number"),
            ("1e", "invalid number"),
            ("-", "invalid number"),
            ("+1", "expected value"),
            (".5", "expected value"),
            ("NaN", "expected value"),
            ("1e400", "number out of range"),
            ("tru", "EOF while parsing a value"),
            ("trux", "expected ident"),
            ("[1,]", "trailing comma"),
            ("[1 2]", "expected `,` or `]`"),
            ("[,1]", "expected value"),
            ("{\"a\":1,}", "trailing comma"),
            ("{\"a\" 1}", "expected `:`"),
            ("{a:1}", "key must be a string"),
            ("{\"a\":1 \"b\":2}", "expected `,` or `}`"),
            ("{\"a\":", "EOF while parsing a value"),
            ("[1", "EOF while parsing a list"),
            ("{\"a\":1", "EOF while parsing an object"),
            ("\"abc", "EOF while parsing a string"),
            (
                "\"a\u{1}\"",
                "control character (\\u0000-\\u001F) found while parsing a string",
            ),
            ("\"\\x\"", "invalid escape"),
            ("\"\\u12g4\"", "invalid escape"),
            ("\"\\ud83d\"", "lone leading surrogate in hex escape"),
            ("\"\\ude00\"", "lone trailing surrogate in hex escape"),
            ("1 2", "trailing characters"),
        ] {
            let e = check(bad).expect_err(bad);
            assert_eq!(e.what, why, "{bad:?}");
        }
        let mut r = Reader::new(b"\"\xff\"");
        assert_eq!(r.string().unwrap_err().what, "invalid unicode code point");
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(check(&nested(MAX_DEPTH)), Ok(()));
        assert_eq!(
            check(&nested(MAX_DEPTH + 1)).unwrap_err().what,
            "recursion limit exceeded"
        );
        let objects = "{\"a\":".repeat(MAX_DEPTH + 1);
        assert_eq!(
            check(&objects).unwrap_err().what,
            "recursion limit exceeded"
        );
    }

    #[test]
    fn strings_are_unescaped_and_borrowed_when_they_can_be() {
        let mut r = Reader::new(br#""plain" "a\u00e9\n\ud83d\ude00b""#);
        assert!(matches!(r.string().unwrap(), Cow::Borrowed("plain")));
        assert_eq!(r.string().unwrap(), "aé\n😀b");
    }

    /// Numbers read as serde_json reads them (the parser the service used before this one),
    /// and short decimals (every clinical value) exactly, i.e. correctly rounded.
    #[test]
    fn numbers_are_read_as_serde_json_reads_them() {
        let read = |text: &str| Reader::new(text.as_bytes()).number().unwrap();
        let serde = |text: &str| serde_json::from_str::<f64>(text).unwrap();
        for text in [
            "2.3",
            "0.1",
            "63",
            "-0",
            "1.7976931348623157e308",
            "5e-324",
            "1e-400",
            "4.35",
            "0.30000000000000004",
            "123456789012345678",
            "9007199254740993",
            "0.000123",
            "99.99",
            "1e22",
            "1e23",
            "-2.5",
            "10000000000000000000000",
            "0.1234567890123456789",
        ] {
            assert_eq!(read(text).to_bits(), serde(text).to_bits(), "{text}");
        }
        // Many more, from a fixed pseudo-random sequence: short decimals, and arbitrary
        // doubles in both notations.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let short = format!("{}.{}", next() % 1000, next() % 10_000);
            assert_eq!(read(&short), short.parse::<f64>().unwrap(), "{short}");
            let x = f64::from_bits(next());
            if x.is_finite() {
                for text in [format!("{x}"), format!("{x:e}"), format!("{}", x / 1e10)] {
                    assert_eq!(read(&text).to_bits(), serde(&text).to_bits(), "{text}");
                }
            }
        }
        assert_eq!(
            Reader::new("9".repeat(400).as_bytes())
                .number()
                .unwrap_err()
                .what,
            "number out of range"
        );
    }

    #[test]
    fn errors_say_where() {
        let e = check("{\n  \"a\": x}").unwrap_err();
        assert_eq!(e.to_string(), "expected value at line 2 column 8");
    }
}
