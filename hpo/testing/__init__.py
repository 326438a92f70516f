"""Conformance suites shipped with the package, so a new searcher or storage proves itself
by adding one fixture parameter (see ``searcher_conformance`` and ``storage_conformance``)."""
