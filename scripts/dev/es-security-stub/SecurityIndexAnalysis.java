// A stable Elasticsearch plugin for dev-stack.sh's elasticsearch-secure, and nothing else.
//
// The integ-test zip has x-pack security but not the analysis-common module, and the settings of the
// `.security` index name three of its components (an `email` analyzer: the `uax_url_email` tokenizer and
// the `pattern_capture` and `unique` filters). Without them that index cannot be created, so neither
// can API keys or native users. These stand-ins only let the index be created: the tokenizer is the
// standard one and the filters pass tokens through unchanged, which no search in our tests depends on.
package cloudtrailes.devstack;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.standard.StandardTokenizer;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;
import org.elasticsearch.plugin.analysis.TokenizerFactory;

public final class SecurityIndexAnalysis {
    private SecurityIndexAnalysis() {}

    @NamedComponent("uax_url_email")
    public static final class UaxUrlEmail implements TokenizerFactory {
        @Override
        public Tokenizer create() {
            return new StandardTokenizer();
        }
    }

    @NamedComponent("pattern_capture")
    public static final class PatternCapture implements TokenFilterFactory {
        @Override
        public TokenStream create(TokenStream in) {
            return in;
        }
    }

    @NamedComponent("unique")
    public static final class Unique implements TokenFilterFactory {
        @Override
        public TokenStream create(TokenStream in) {
            return in;
        }
    }
}
