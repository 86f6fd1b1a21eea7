//! Enums that users name by keyword (`--aggregation mpc`, `--split iid`):
//! one macro writes their `Display` (the canonical keyword) and `FromStr`
//! (keyword or alias, case-insensitive, `-` and `_` ignored), so the
//! parsing rules and the error message are the same for every such enum.

/// Folds a keyword for comparison: trimmed, lower case, without `-` and `_`.
pub(crate) fn fold(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// "a, b or c" for an error message listing the accepted keywords.
pub(crate) fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// `keyword_enum!(Type, "parameter", { Variant => "name" | "alias", ... })`
/// implements `Display` (the first name) and `FromStr` (any name, folded by
/// [`fold`]; an unknown keyword is [`Error::InvalidParameter`](crate::Error::InvalidParameter)
/// naming the parameter and the canonical keywords).
macro_rules! keyword_enum {
    ($ty:ident, $param:literal, { $($variant:ident => $name:literal $(| $alias:literal)*),+ $(,)? }) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(match self {
                    $($ty::$variant => $name),+
                })
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                let key = $crate::keyword::fold(s);
                $(
                    if key == $crate::keyword::fold($name)
                        $(|| key == $crate::keyword::fold($alias))*
                    {
                        return Ok($ty::$variant);
                    }
                )+
                Err($crate::error::Error::invalid(
                    $param,
                    format!("'{s}': use {}", $crate::keyword::one_of(&[$($name),+])),
                ))
            }
        }
    };
}
pub(crate) use keyword_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Colour {
        Red,
        DarkBlue,
    }
    keyword_enum!(Colour, "colour", { Red => "red" | "rouge", DarkBlue => "dark-blue" });

    #[test]
    fn parses_names_and_aliases_and_prints_the_canonical_name() {
        assert_eq!(" RED ".parse::<Colour>().ok(), Some(Colour::Red));
        assert_eq!("rouge".parse::<Colour>().ok(), Some(Colour::Red));
        assert_eq!("dark_blue".parse::<Colour>().ok(), Some(Colour::DarkBlue));
        assert_eq!("DarkBlue".parse::<Colour>().ok(), Some(Colour::DarkBlue));
        assert_eq!(Colour::DarkBlue.to_string(), "dark-blue");
        let err = "green".parse::<Colour>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("invalid parameter colour: 'green': use red or dark-blue")
        );
    }

    #[test]
    fn lists_keywords_readably() {
        assert_eq!(one_of(&["a"]), "a");
        assert_eq!(one_of(&["a", "b", "c"]), "a, b or c");
    }
}
