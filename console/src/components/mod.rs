//! Building blocks shared by the pages: the app shell, form fields with their errors, dialogs,
//! toasts, badges, icons, the traffic chart, and the loading and deleting of one named item.

pub mod badge;
pub mod chart;
pub mod field;
pub mod icons;
pub mod item;
pub mod modal;
pub mod page;
pub mod rows;
pub mod shell;
pub mod toast;
