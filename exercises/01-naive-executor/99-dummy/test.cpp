#include <doctest/doctest.h>
#include <thing.hpp>
TEST_CASE("answer") { CHECK(answer() == 42); }
