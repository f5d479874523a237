"""What a run writes: the results document, the verdict and the exit status (``results``), the terminal report
(``console``), JUnit XML, Markdown, HTML, Allure labels, the comparison of targets and a server's page."""
