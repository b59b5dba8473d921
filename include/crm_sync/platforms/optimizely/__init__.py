"""Optimizely Campaign (formerly Episerver Campaign / optivo broadmail) over its SOAP API.

``client.OptimizelyCampaignClient`` speaks the webservices (zeep, one client per webservice);
``platform.OptimizelyCampaignPlatform`` implements the platform-neutral ``RecipientListPlatform``
on top of it. Nothing here imports Airflow.
"""
