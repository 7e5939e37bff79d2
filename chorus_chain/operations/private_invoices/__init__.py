"""Private invoices between companies of the chain (no cadre: a sous-traitant to its contractor), under commercial
law (`domain.commercial_terms`): which are unpaid past their due date (`overdue`)."""
