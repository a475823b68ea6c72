"""Outreach (人群触达, O1–O14): the planner, campaigns, audiences, privileges and ledgers."""
