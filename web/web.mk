# Included by the top-level Makefile.

.PHONY: screenshots
screenshots: web/node_modules/.package-lock.json ## Regenerate the browser screenshots (light, dark, 375 px) in web/testdata/screenshots/
	rm -rf web/testdata/screenshots
	$(GO) test -count=1 -timeout 10m -run 'TestScreenshots|TestBrowser' ./web/
	@ls -1 web/testdata/screenshots/
