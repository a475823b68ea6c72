"""Test support shared by every area: the headless browser harness."""
