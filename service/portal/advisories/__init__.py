"""Consumer advisories (消费提示): warnings the bureau publishes to the public."""
