"""The evaluation designs a site notebook runs, one module per design (``did``, ``its``,
``synth``, ``robustness``), each with its runner, its results object and its figures; beside
them the site's comparison group (``comparison``), which inference row leads
(``headline``), the base results object (``results``) and the shared figure helpers
(``figures``)."""
