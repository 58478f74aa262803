"""A small LTI 1.3 platform (an LMS stand-in) on loopback, for tests, benches and browsers."""
