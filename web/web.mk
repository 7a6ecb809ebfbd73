# Included by the top-level Makefile.

.PHONY: screenshots
screenshots: web/node_modules/.package-lock.json ## Regenerate the browser screenshots (light, dark, 375 px) in web/testdata/screenshots/
	rm -rf web/testdata/screenshots
	CHATR_SCREENSHOTS=1 $(GO) test -count=1 -timeout 20m -run 'TestScreenshots|TestBrowser' ./web/
	@ls -1 web/testdata/screenshots/

# The browser libraries embedded in the binary, committed in web/lib/ so that
# `go build` and `go install` need no npm: Vue's runtime-only build and the
# Bulma modules web/bulma.scss names, with gzip and brotli copies.
.PHONY: web-vendor
web-vendor: web/node_modules/.package-lock.json ## Regenerate web/lib/ (Vue, Bulma's CSS, precompressed) from web/package-lock.json
	cd web && node vendor.mjs lib

.PHONY: check-web-vendor
check-web-vendor: web/node_modules/.package-lock.json ## Fail when web/lib/ is not what `make web-vendor` makes from the lockfile
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && (cd web && node vendor.mjs "$$tmp") && \
	if ! diff -r web/lib "$$tmp" >/dev/null; then \
	  diff -rq web/lib "$$tmp"; echo "web/lib/ does not match web/package-lock.json and web/bulma.scss: run make web-vendor"; exit 1; \
	fi
