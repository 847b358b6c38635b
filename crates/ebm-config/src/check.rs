//! The checks every section shares: a [`Checker`] collects each failure with its key path and
//! value, so every problem of a configuration is reported at once.

use crate::FieldError;

/// Collects field errors.
#[derive(Debug, Default)]
pub(crate) struct Checker(pub(crate) Vec<FieldError>);

impl Checker {
    pub(crate) fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }

    pub(crate) fn positive_count(&mut self, field: &str, value: usize) {
        if value == 0 {
            self.fail(field, "= 0: must be at least 1");
        }
    }

    pub(crate) fn finite(&mut self, field: &str, value: f64) -> bool {
        if value.is_finite() {
            true
        } else {
            self.fail(field, format!("= {value}: must be a finite number"));
            false
        }
    }

    pub(crate) fn positive(&mut self, field: &str, value: f64) {
        if self.finite(field, value) && value <= 0.0 {
            self.fail(field, format!("= {value}: must be > 0"));
        }
    }

    pub(crate) fn non_negative(&mut self, field: &str, value: f64) {
        if self.finite(field, value) && value < 0.0 {
            self.fail(field, format!("= {value}: must be >= 0"));
        }
    }

    pub(crate) fn unit_interval(&mut self, field: &str, value: f64) {
        if self.finite(field, value) && !(value > 0.0 && value <= 1.0) {
            self.fail(field, format!("= {value}: must be in (0, 1]"));
        }
    }
}
