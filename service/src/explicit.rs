//! Flags parsed from an argument list alone, whatever the process environment holds.
//!
//! `auditctl up` runs every service in one process and builds each one's settings
//! from the arguments it chooses. Parsed the usual way, the shell's `AUDIT_*`
//! variables would reach every service at once: `AUDIT_INPUT_TOPIC` would reroute
//! every stage, one service's credential would configure another. Parsing with the
//! environment switched off keeps each service's settings to what it was given.

use clap::Parser;

/// `P` from `args` (the program name first), ignoring every `env` of its flags.
pub fn parse_explicit<P, I, T>(args: I) -> Result<P, clap::Error>
where
    P: Parser,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let command = P::command().mut_args(|arg| arg.env(None::<&str>));
    let matches = command.try_get_matches_from(args)?;
    P::from_arg_matches(&matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[arg(long, env = "AUDIT_EXPLICIT_TEST_TOPIC", default_value = "audit.raw")]
        topic: String,
    }

    #[test]
    fn the_environment_does_not_reach_explicit_flags() {
        // SAFETY: this test binary's only reader of the variable is this test.
        unsafe { std::env::set_var("AUDIT_EXPLICIT_TEST_TOPIC", "elsewhere") };
        assert_eq!(Flags::parse_from(["test"]).topic, "elsewhere", "the usual parse reads it");
        assert_eq!(parse_explicit::<Flags, _, _>(["test"]).unwrap().topic, "audit.raw");
        let given = parse_explicit::<Flags, _, _>(["test", "--topic", "mine"]).unwrap();
        assert_eq!(given.topic, "mine");
    }
}
