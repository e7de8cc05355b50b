"""The sample business the demo and the sample flows talk to (Northwind Energy, a utility)."""
