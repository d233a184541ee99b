//! One module per page of the console.

pub mod account;
pub mod config;
pub mod dashboard;
pub mod login;
pub mod not_found;
pub mod playground;
pub mod provider_form;
pub mod providers;
pub mod route_form;
pub mod routes;
pub mod setup;
