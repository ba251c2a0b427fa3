//! Splits filter text into tokens, one at a time, each with its byte position.
//!
//! Owns what a token is: punctuation `( ) [ ]`, a quoted JSON string (decoded here) or
//! a word, a maximal run of anything but whitespace, punctuation and `"`. Whether a
//! word is a keyword, an attribute path or a bare value depends on where it stands, so
//! that is the parser's call. Each byte is looked at a bounded number of times.

use super::FilterError;

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TokenKind<'a> {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    /// Keyword, operator, attribute path or bare value, as written.
    Word(&'a str),
    /// A quoted value, already unescaped.
    Quoted(String),
    /// No more input; asking again keeps returning it.
    End,
}

impl TokenKind<'_> {
    /// How an error message names the token. Words that are not keywords and quoted
    /// values are not repeated: they may be values, and values may be personal data.
    pub(super) fn describe(&self) -> String {
        match self {
            TokenKind::Open => "(".into(),
            TokenKind::Close => ")".into(),
            TokenKind::OpenBracket => "[".into(),
            TokenKind::CloseBracket => "]".into(),
            TokenKind::Word(word) if is_keyword(word) => word.to_ascii_lowercase(),
            TokenKind::Word(_) => "word".into(),
            TokenKind::Quoted(_) => "quoted value".into(),
            TokenKind::End => "end of filter".into(),
        }
    }
}

/// A token and the byte offset where it starts.
#[derive(Debug)]
pub(super) struct Token<'a> {
    pub(super) kind: TokenKind<'a>,
    pub(super) position: usize,
}

/// Whether `word` is `keyword`, ignoring ASCII case.
pub(super) fn is(word: &str, keyword: &str) -> bool {
    word.eq_ignore_ascii_case(keyword)
}

/// Keywords that structure a filter; they cannot be attribute names or bare values.
pub(super) fn is_reserved(word: &str) -> bool {
    is(word, "and") || is(word, "or") || is(word, "not")
}

fn is_keyword(word: &str) -> bool {
    is_reserved(word) || is(word, "pr") || super::CompareOp::from_keyword(word).is_some()
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn ends_word(byte: u8) -> bool {
    is_space(byte) || matches!(byte, b'(' | b')' | b'[' | b']' | b'"')
}

/// Hands out the tokens of one filter text in order.
pub(super) struct Lexer<'a> {
    text: &'a str,
    position: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self { text, position: 0 }
    }

    /// The next token, or the error that stops the text from being tokenized further.
    pub(super) fn next_token(&mut self) -> Result<Token<'a>, FilterError> {
        let bytes = self.text.as_bytes();
        while bytes.get(self.position).is_some_and(|&byte| is_space(byte)) {
            self.position += 1;
        }
        let start = self.position;
        let kind = match bytes.get(start) {
            None => TokenKind::End,
            Some(b'(') => TokenKind::Open,
            Some(b')') => TokenKind::Close,
            Some(b'[') => TokenKind::OpenBracket,
            Some(b']') => TokenKind::CloseBracket,
            Some(b'"') => return self.quoted(start),
            Some(_) => return Ok(self.word(start)),
        };
        if kind != TokenKind::End {
            self.position += 1;
        }
        Ok(Token { kind, position: start })
    }

    fn word(&mut self, start: usize) -> Token<'a> {
        let rest = &self.text.as_bytes()[start..];
        let length = rest.iter().position(|&byte| ends_word(byte)).unwrap_or(rest.len());
        self.position = start + length;
        // Words start after and end before ASCII bytes (or at the text's ends), which
        // are always char boundaries, so `get` cannot miss.
        let word = self.text.get(start..self.position).unwrap_or_default();
        Token { kind: TokenKind::Word(word), position: start }
    }

    /// A JSON string starting at the `"` at `start`. The closing quote is found by
    /// skipping escaped bytes, then serde_json applies the JSON escape rules; errors
    /// give the opening quote's position and never the content.
    fn quoted(&mut self, start: usize) -> Result<Token<'a>, FilterError> {
        let bytes = self.text.as_bytes();
        let mut index = start + 1;
        loop {
            match bytes.get(index) {
                None => return Err(FilterError::new(start, "unterminated quoted value")),
                Some(b'\\') => index += 2,
                Some(b'"') => break,
                Some(_) => index += 1,
            }
        }
        let end = index + 1;
        let raw = self.text.get(start..end).unwrap_or_default();
        let value = serde_json::from_str::<String>(raw)
            .map_err(|_| FilterError::new(start, "invalid quoted value"))?;
        self.position = end;
        Ok(Token { kind: TokenKind::Quoted(value), position: start })
    }
}
