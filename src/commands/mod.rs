//! One module per subcommand.

pub mod chat;
pub mod eval;
pub mod fetch;
pub mod policy;
pub mod scan;
