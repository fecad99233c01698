"""Intake: what arrives from outside becomes typed actions for the queue.

``webhook`` (``POST /webhook``: verify, parse, route, record through the ``DeliveryStore`` seam),
``routing`` (an event's payload -> actions; pure), ``commands`` (the ``/reprobot`` syntax) and
``actions`` (the action records). Intake sits below ``bot.jobs``: the queue applies its actions;
nothing here imports the jobs.
"""
