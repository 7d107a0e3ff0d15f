"""The cockpit: what marketing ops see of journeyflow inside the Airflow UI (the plugin in
``plugins/journeyflow_ui.py`` mounts it)."""
