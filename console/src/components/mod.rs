//! Building blocks shared by the pages: the app shell, form fields with their errors, dialogs,
//! toasts, badges, icons, the charts, stat cards, client snippets, limit and budget fields, the
//! guardrail policy picker, and what every resource's pages share (the list page, the edit page's
//! loader, the form's save and footer).

pub mod badge;
pub mod budget;
pub mod chart;
pub mod client_auth_banner;
pub mod field;
pub mod form_page;
pub mod guardrail_picker;
pub mod icons;
pub mod item;
pub mod limits;
pub mod modal;
pub mod page;
pub mod resource_list;
pub mod rows;
pub mod shell;
pub mod snippet;
pub mod stat;
pub mod toast;
