"""Multi-department case handling (多跨协同 "一件事"): one case, several departments, one outcome.

A case is a dispute, a warning or a 12345 hotline work order that needs the departments of
the district: the street office (街道) or a regulator routes it to one or more departments
(commerce, market supervision, health, education...), each with its own task, owner and
deadline; a department may hand its task to another; each records its finding, and a penalty
becomes an indicator record of the merchant that re-rates it. The consumer sees the outcome
and confirms. ``models`` holds the tables, ``service`` the use cases, ``hotline`` the import
of 12345 work orders, ``kpis`` the figures per department and street.
"""
