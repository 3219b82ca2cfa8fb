# Documentation checks.
#
#   make test-docs   every relative link in the tracked Markdown resolves inside
#                    the repository (CONTRACT.md's agreement with the code is a
#                    core test: core/src/contract_doc.rs)

TEST_TARGETS += test-docs

.PHONY: test-docs

test-docs:
	python3 tests/docs/check_links.py
