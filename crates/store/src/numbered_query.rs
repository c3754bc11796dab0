//! SQL assembled at run time with `$1, $2, …` placeholders. sqlx's
//! `QueryBuilder` writes `?` for the Any driver, which PostgreSQL rejects;
//! `$n` works on both backends (SQLite takes `$NNN` as parameter number NNN).

use lienthong_domain::Error;
use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments as _, AssertSqlSafe, Encode, Type};

/// A statement under construction and its bound values.
#[derive(Default)]
pub(crate) struct NumberedQuery {
    sql: String,
    arguments: AnyArguments,
    has_where_clause: bool,
}

impl NumberedQuery {
    pub(crate) fn new(sql: &str) -> NumberedQuery {
        NumberedQuery {
            sql: sql.to_owned(),
            ..NumberedQuery::default()
        }
    }

    pub(crate) fn push_sql(&mut self, sql: &str) -> &mut NumberedQuery {
        self.sql.push_str(sql);
        self
    }

    /// Appends the next placeholder and binds `value` to it.
    pub(crate) fn push_bind<'value, T>(&mut self, value: T) -> Result<&mut NumberedQuery, Error>
    where
        T: Encode<'value, Any> + Type<Any> + 'value,
    {
        self.arguments
            .add(value)
            .map_err(|error| Error::Internal(format!("a query parameter cannot be bound: {error}")))?;
        self.sql.push('$');
        self.sql.push_str(&self.arguments.len().to_string());
        Ok(self)
    }

    /// Adds `template` to the WHERE clause (after `WHERE` or `AND`), with its
    /// one `{}` replaced by a placeholder bound to `value`.
    pub(crate) fn push_condition<'value, T>(
        &mut self,
        template: &str,
        value: T,
    ) -> Result<&mut NumberedQuery, Error>
    where
        T: Encode<'value, Any> + Type<Any> + 'value,
    {
        self.push_condition_in(template, [value])
    }

    /// Like [`push_condition`](Self::push_condition), with `{}` replaced by a
    /// comma-separated placeholder list, as in `kind IN ({})`. The caller
    /// handles an empty list, which SQL cannot express.
    pub(crate) fn push_condition_in<'value, T>(
        &mut self,
        template: &str,
        values: impl IntoIterator<Item = T>,
    ) -> Result<&mut NumberedQuery, Error>
    where
        T: Encode<'value, Any> + Type<Any> + 'value,
    {
        let Some((before, after)) = template.split_once("{}") else {
            return Err(Error::Internal(format!(
                "condition {template:?} has no placeholder"
            )));
        };
        self.push_sql(if self.has_where_clause { " AND " } else { " WHERE " });
        self.has_where_clause = true;
        self.push_sql(before);
        for (index, value) in values.into_iter().enumerate() {
            if index > 0 {
                self.push_sql(", ");
            }
            self.push_bind(value)?;
        }
        self.push_sql(after);
        Ok(self)
    }

    /// Ends a list query: its order and how many rows at most. The limit
    /// is written into the statement, not bound: SQLite plans with a bound
    /// limit's value and so prepares such a statement again every time it is
    /// bound, even to the same value.
    pub(crate) fn push_order_and_limit(&mut self, order_by: &str, limit: u32) -> &mut NumberedQuery {
        self.push_sql(" ORDER BY ")
            .push_sql(order_by)
            .push_sql(&format!(" LIMIT {limit}"))
    }

    /// The SQL and its arguments, for `sqlx::query_with` and friends.
    pub(crate) fn into_parts(self) -> (AssertSqlSafe<String>, AnyArguments) {
        (AssertSqlSafe(self.sql), self.arguments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_and_conditions_joined() {
        let mut query = NumberedQuery::new("SELECT id FROM reports");
        query
            .push_condition("form_code = {}", "tthc")
            .expect("bound")
            .push_condition("form_code IN (SELECT code FROM forms WHERE owner = {})", "x")
            .expect("bound")
            .push_order_and_limit("id", 20);
        let (sql, arguments) = query.into_parts();
        assert_eq!(
            sql.0,
            "SELECT id FROM reports WHERE form_code = $1 AND form_code IN \
             (SELECT code FROM forms WHERE owner = $2) ORDER BY id LIMIT 20"
        );
        assert_eq!(arguments.len(), 2);
    }

    #[test]
    fn lists_get_one_placeholder_per_value() {
        let mut query = NumberedQuery::new("SELECT id FROM organs");
        query
            .push_condition_in("kind IN ({})", ["A", "B", "C"])
            .expect("bound");
        let (sql, arguments) = query.into_parts();
        assert_eq!(sql.0, "SELECT id FROM organs WHERE kind IN ($1, $2, $3)");
        assert_eq!(arguments.len(), 3);
    }

    #[test]
    fn a_condition_without_placeholder_is_an_error() {
        assert!(
            NumberedQuery::new("SELECT 1")
                .push_condition("1 = 1", 1_i64)
                .is_err()
        );
    }
}
