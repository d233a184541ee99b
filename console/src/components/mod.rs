//! Building blocks shared by the pages: the app shell, form fields with their errors, dialogs,
//! toasts, badges, icons and the traffic chart.

pub mod badge;
pub mod chart;
pub mod field;
pub mod icons;
pub mod modal;
pub mod page;
pub mod rows;
pub mod shell;
pub mod toast;
