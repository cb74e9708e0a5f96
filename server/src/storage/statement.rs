//! Statements whose parameters depend on the data (`IN` lists, multi-row `VALUES`), for code
//! written once for both databases.

/// A value bound to a [`Statement`], owned or borrowed for as long as the statement.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// Text.
    Str(&'a str),
    /// Text or `NULL`.
    OptStr(Option<&'a str>),
    /// A 64-bit integer.
    Int(i64),
    /// An integer or `NULL`.
    OptInt(Option<i64>),
    /// A boolean.
    Bool(bool),
    /// A double.
    Real(f64),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Str(v)
    }
}
impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Str(v)
    }
}
impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Value::OptStr(v)
    }
}
impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Value::OptStr(v.as_deref())
    }
}
impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<Option<i64>> for Value<'_> {
    fn from(v: Option<i64>) -> Self {
        Value::OptInt(v)
    }
}
impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<f64> for Value<'_> {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}

/// A statement with as many parameters as its data (`IN` lists, multi-row `VALUES`), for any
/// database: sqlx's `QueryBuilder` keeps its arguments typed by the database, and generic code
/// cannot shorten their lifetime to run the query, so this one keeps plain values and binds them
/// when it runs (`sql::Queries::fetch_all`, `sql::Queries::execute`), writing each database's
/// placeholders then (`$n` on PostgreSQL, `?` on SQLite, which parses thousands of numbered
/// parameters slowly).
#[derive(Debug, Default)]
pub struct Statement<'a> {
    /// The SQL, without placeholders.
    pub(super) text: String,
    /// Where each value's placeholder goes in `text`, in order.
    pub(super) holes: Vec<usize>,
    /// The values, in parameter order.
    pub(super) values: Vec<Value<'a>>,
}

impl<'a> Statement<'a> {
    /// A statement that starts with `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            holes: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Appends SQL text.
    pub fn push(&mut self, text: impl AsRef<str>) -> &mut Self {
        self.text.push_str(text.as_ref());
        self
    }

    /// Appends a parameter bound to `value`.
    pub fn push_bind(&mut self, value: impl Into<Value<'a>>) -> &mut Self {
        self.holes.push(self.text.len());
        self.values.push(value.into());
        self
    }

    /// A writer of parameters separated by `separator` (an `IN` list).
    pub fn separated(&mut self, separator: &'static str) -> Separated<'_, 'a> {
        Separated {
            statement: self,
            separator,
            first: true,
        }
    }

    /// Appends `VALUES (…), (…)`: one tuple per item, written by `tuple`.
    pub fn push_values<I: IntoIterator>(
        &mut self,
        items: I,
        mut tuple: impl FnMut(Separated<'_, 'a>, I::Item),
    ) -> &mut Self {
        self.text.push_str("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            self.text.push_str(if i == 0 { "(" } else { ", (" });
            tuple(self.separated(", "), item);
            self.text.push(')');
        }
        self
    }
}

/// Parameters separated by a separator; see [`Statement::separated`].
#[derive(Debug)]
pub struct Separated<'s, 'a> {
    statement: &'s mut Statement<'a>,
    separator: &'static str,
    first: bool,
}

impl<'a> Separated<'_, 'a> {
    /// Appends the separator (but before the first) and a parameter bound to `value`.
    pub fn push_bind(&mut self, value: impl Into<Value<'a>>) -> &mut Self {
        if !std::mem::take(&mut self.first) {
            self.statement.text.push_str(self.separator);
        }
        self.statement.push_bind(value);
        self
    }
}
