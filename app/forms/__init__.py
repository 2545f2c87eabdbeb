"""Form fields shared by more than one page (WTForms)."""
