"""Thin views, by audience: `partner` (the agreement and its pages), `rules` (actions on one rule
card) and `therapist` (the therapist's read-only side). Each parses the request, asks
`agreements.access` for the object, calls a service or a page builder, and renders."""
