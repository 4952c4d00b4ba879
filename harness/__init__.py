"""harness: a Kaggle-style competition harness for fast.ai study groups."""
