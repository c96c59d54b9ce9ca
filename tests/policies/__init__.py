import pytest

# The shared checks assert in the harness: show their diffs as pytest does in tests.
pytest.register_assert_rewrite("tests.policies.harness")
