//! How errors are shown: on one line, with their causes.
//!
//! Library errors (the AWS SDK's, reqwest's) keep the useful part ("connection refused",
//! "dns error") in their `source()` chain, and print only a generic first line. Every message that
//! reaches a user goes through [`chain`], so the cause is never lost.

/// An error and its causes on one line, without repeating a cause already in the text.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text = format!("{text}: {next}");
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_joined_once() {
        let inner = std::io::Error::other("connection refused");
        let outer = std::io::Error::other(inner);
        assert_eq!(chain(&outer), "connection refused");
        let wrapped = anyhow::anyhow!(std::io::Error::other("dns error")).context("error sending request");
        let as_std: &(dyn std::error::Error + 'static) = wrapped.as_ref();
        assert_eq!(chain(as_std), "error sending request: dns error");
    }
}
