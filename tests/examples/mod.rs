//! The example bots of `examples/` besides the quickstart, each run as its
//! own process on a free port and driven through real HTTP; and the
//! quickstart's health check and its multi-instance deployment.

mod auto_reply;
mod health;
mod llm_bot;
mod multi_instance;
