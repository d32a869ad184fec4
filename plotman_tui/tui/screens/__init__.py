"""The dashboard's screens: the main one, a job's details, the kill question and help."""
