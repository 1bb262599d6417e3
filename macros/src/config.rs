//! Parsing the options of `wasync::generate!`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Error, LitStr, Result, Token, braced, bracketed};
use wasync_lower::Mode;

/// What the author asked for.
pub struct Config {
    /// The mode of this build (from wasync's `concurrent` and `native` features).
    pub build_mode: Mode,
    /// The mode the author stated, and where.
    pub stated_mode: Option<(Mode, Span)>,
    pub world: Option<LitStr>,
    pub paths: Vec<LitStr>,
    pub inline: Option<LitStr>,
    pub with: Vec<(String, String)>,
    pub additional_derives: Vec<syn::Path>,
    pub span: Span,
}

const OPTIONS: &str = "world, path, inline, mode, with, additional_derives";

impl Parse for Config {
    fn parse(input: ParseStream<'_>) -> Result<Config> {
        // `@default_mode "S"` is added by the `wasync::generate!` wrapper.
        input.parse::<Token![@]>()?;
        let marker: syn::Ident = input.parse()?;
        if marker != "default_mode" {
            return Err(Error::new(
                marker.span(),
                "use `wasync::generate!`, not this macro directly",
            ));
        }
        let build: LitStr = input.parse()?;
        let build_mode = build
            .value()
            .parse::<Mode>()
            .map_err(|e| Error::new(build.span(), e.to_string()))?;
        let span = input.span();
        let mut config = Config {
            build_mode,
            stated_mode: None,
            world: None,
            paths: Vec::new(),
            inline: None,
            with: Vec::new(),
            additional_derives: Vec::new(),
            span,
        };
        if input.is_empty() {
            return Ok(config);
        }
        if input.peek(LitStr) {
            // The short form: `wasync::generate!("world")`.
            config.world = Some(input.parse()?);
            return Ok(config);
        }
        let body;
        braced!(body in input);
        while !body.is_empty() {
            let key: syn::Ident = body.parse()?;
            body.parse::<Token![:]>()?;
            match key.to_string().as_str() {
                "world" => config.world = Some(body.parse()?),
                "path" => {
                    if body.peek(syn::token::Bracket) {
                        let list;
                        bracketed!(list in body);
                        let paths = Punctuated::<LitStr, Token![,]>::parse_terminated(&list)?;
                        config.paths.extend(paths);
                    } else {
                        config.paths.push(body.parse()?);
                    }
                }
                "inline" => config.inline = Some(body.parse()?),
                "mode" => {
                    let lit: LitStr = body.parse()?;
                    let mode = lit
                        .value()
                        .parse::<Mode>()
                        .map_err(|e| Error::new(lit.span(), e.to_string()))?;
                    config.stated_mode = Some((mode, lit.span()));
                }
                "with" => {
                    let map;
                    braced!(map in body);
                    while !map.is_empty() {
                        let name: LitStr = map.parse()?;
                        map.parse::<Token![:]>()?;
                        let path: syn::Path = map.parse()?;
                        let path = quote::quote!(#path).to_string().replace(' ', "");
                        config.with.push((name.value(), path));
                        if map.is_empty() {
                            break;
                        }
                        map.parse::<Token![,]>()?;
                    }
                }
                "additional_derives" => {
                    let list;
                    bracketed!(list in body);
                    let paths = Punctuated::<syn::Path, Token![,]>::parse_terminated(&list)?;
                    config.additional_derives.extend(paths);
                }
                other => {
                    return Err(Error::new(
                        key.span(),
                        format!("unknown option `{other}`; the options are: {OPTIONS}"),
                    ));
                }
            }
            if body.is_empty() {
                break;
            }
            body.parse::<Token![,]>()?;
        }
        Ok(config)
    }
}
