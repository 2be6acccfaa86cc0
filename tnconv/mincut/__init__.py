"""Min-cut bounds on the Schmidt rank of tensor networks."""
