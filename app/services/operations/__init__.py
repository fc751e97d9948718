"""Operations: the scheduler's mail plan, mail, readiness and the demo data."""
