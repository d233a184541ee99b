//! One module per page of the console.

pub mod account;
pub mod config;
pub mod consumer_form;
pub mod consumer_keys;
pub mod consumers;
pub mod dashboard;
pub mod guardrail_form;
pub mod guardrails;
pub mod history;
pub mod key_dialogs;
pub mod key_edit;
pub mod key_reveal;
pub mod login;
pub mod logs;
pub mod not_found;
pub mod playground;
pub mod provider_form;
pub mod providers;
pub mod route_form;
pub mod routes;
pub mod settings;
pub mod setup;
pub mod usage;
